"""Instance mode: SegRefiner on every detected object (crop, refine, paste back).

The paper refines each instance mask of a detector independently (its test
settings are the defaults below):

1. Instances whose coarse mask has fewer than ``min_area`` foreground pixels
   keep their coarse mask (too small to gain from a crop).
2. The box of the coarse mask is expanded by ``box_padding`` pixels on each
   side and clipped to the image; image and mask are cropped to it and resized
   to ``model_size x model_size`` (bilinear; the mask is binarized at
   ``coarse_threshold`` after resizing).
3. The reverse diffusion runs all its steps (``timesteps=None``), or the
   sub-sequence ``timesteps`` of them (e.g. ``(5, 3, 0)``: 3 network calls
   instead of 6; the diffusion defines what a skipped step means). With
   ``test_cfg.early_stop`` a crop stops once its prediction has settled.
4. The refined probability is resized back into the box at image resolution
   (bilinear), limited by the do-no-harm guard when ``test_cfg.max_change``
   sets it (:mod:`.guard`, at image resolution), and thresholded at
   ``refined_threshold``; outside the box the
   refined mask is background (the coarse mask lies inside the box anyway).
   On request (``return_probs``) the pasted probability is returned too:
   the resized probability inside the box, 0 outside it; an instance kept
   coarse (step 1) has its coarse mask as 0/1 probability.

Crops of all instances of all images of a batch go through the network
``batch_size`` at a time; they are cut just before their network call, so
memory holds one batch of crops, not all of them. Each crop draws from its own
generator, seeded from its image's seed and its instance index
(:mod:`.seeding`), so a refined instance does not depend on ``batch_size`` or
on the other images of the batch.

Resampling is ``F.interpolate`` per crop (``align_corners=False``, no
anti-aliasing): it is the plain bilinear resize the paper describes, exact
for any box size, and costs little next to one network call.

How the paste differs from the authors' evaluation code: they paste with
``F.grid_sample`` (mmdet 2.x's ``_do_paste_mask``, ``align_corners=False``,
zero padding), sampling the model-resolution probability at the centres of
the box's full-resolution pixels over the whole image. For a box of ``N``
pixels on a side larger than the model input ``n``, the outermost sample
positions fall outside the probability map's first and last pixel centres,
where zero padding is blended in with weight ``1/2 - n / (2 N)``: the
probability on the 1-pixel rim of the box is scaled by ``1/2 + n / (2 N)``,
about halved for boxes much larger than the model input (outside the box it
is 0, as here). This module resizes exactly into the box
(edge values replicated), so rim pixels keep their probability; the two
agree everywhere else.
``mmcv.ops.RoIAlign`` would batch the crops but averages several samples per
output pixel, which is a different (smoothing) resize.

This module has no parameters: it receives the ``SegRefiner`` (anything with
``model_size`` and ``refine(images, coarse, timesteps=..., generator=...)``) as
an argument.
"""
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor
from typing import List, NamedTuple, Optional, Sequence, Union

from mmseg_refiner.registry import MODELS
from mmseg_refiner.utils.settings import check_float, check_int, check_ints
from .confidence import refinement_confidence
from .guard import limit_change, max_change_of
from .seeding import make_generators, mask_seed


class _CropJob(NamedTuple):
    """One instance to refine: which image and mask, and its (expanded) box."""
    image_index: int
    instance_index: int
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int  # exclusive
    seed: Optional[int] = None  # of this crop's sampling


def expanded_mask_boxes(masks: Tensor, padding: int) -> Tensor:
    """Boxes of binary masks, expanded by ``padding`` and clipped to the image.

    Args:
        masks (Tensor): (N, H, W) bool masks; none may be empty.
        padding (int): pixels added on each side.

    Returns:
        Tensor: (N, 4) long ``(x0, y0, x1, y1)``, end exclusive, with
        ``0 <= x0 < x1 <= W`` and ``0 <= y0 < y1 <= H``.
    """
    height, width = masks.shape[-2:]
    rows = masks.any(dim=2)  # (N, H)
    cols = masks.any(dim=1)  # (N, W)
    # argmax returns the first maximum: the first foreground row / column.
    y0 = rows.int().argmax(dim=1)
    y1 = height - rows.flip(1).int().argmax(dim=1)
    x0 = cols.int().argmax(dim=1)
    x1 = width - cols.flip(1).int().argmax(dim=1)
    return torch.stack([(x0 - padding).clamp(min=0), (y0 - padding).clamp(min=0),
                        (x1 + padding).clamp(max=width), (y1 + padding).clamp(max=height)],
                       dim=1)


def _resize(x: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear ``F.interpolate`` of a float (N, C, h, w) tensor (``align_corners=False``)."""
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


def as_bool_masks(masks: Union[Tensor, np.ndarray, object]) -> Tensor:
    """(N, H, W) bool tensor from a tensor, an array or mmdet ``BitmapMasks``."""
    if hasattr(masks, 'to_ndarray'):  # mmdet BitmapMasks / PolygonMasks
        masks = masks.to_ndarray()
    if isinstance(masks, np.ndarray):
        masks = torch.from_numpy(masks)
    return masks.bool() if masks.dtype != torch.bool else masks


@MODELS.register_module()
class InstanceRefiner:
    """Crop, refine and paste back every instance mask of a batch (the paper's instance-level test).

    Args:
        min_area (int): instances with fewer foreground pixels keep their
            coarse mask. Defaults to 512.
        box_padding (int): pixels added on each side of the mask's box before
            cropping (clipped to the image). Defaults to 20.
        batch_size (int): at most this many crops per network call.
            Defaults to 32.
        coarse_threshold (float): the coarse mask crop, resized bilinearly to
            the model size, is foreground where it is ``>=`` this.
            Defaults to 0.5.
        refined_threshold (float): the refined probability, resized back into
            the box, is foreground where it is ``>=`` this. Defaults to 0.5.
        timesteps (Sequence[int], optional): the reverse steps to run, a
            strictly decreasing sub-sequence of ``T-1..0`` (e.g. ``(5, 3, 0)``);
            each step goes to the next one given, the last to the end of the
            process (``DiscreteMaskDiffusion.sample``). Defaults to None: all
            ``T`` steps, as in the paper.
        keep_probs (bool): also give a detector's instances their pasted
            probabilities, ``pred_instances.mask_probs`` ((N_i, H, W) float32:
            N_i maps of the image's size, hence off by default).
    """

    def __init__(self,
                 min_area: int = 512,
                 box_padding: int = 20,
                 batch_size: int = 32,
                 coarse_threshold: float = 0.5,
                 refined_threshold: float = 0.5,
                 timesteps: Optional[Sequence[int]] = None,
                 keep_probs: bool = False) -> None:
        owner = 'InstanceRefiner'
        self.min_area = check_int(owner, 'min_area', min_area, low=0)
        self.box_padding = check_int(owner, 'box_padding', box_padding, low=0)
        self.batch_size = check_int(owner, 'batch_size', batch_size, low=1)
        self.coarse_threshold = check_float(owner, 'coarse_threshold', coarse_threshold, 0, 1)
        self.refined_threshold = check_float(owner, 'refined_threshold', refined_threshold, 0, 1)
        self.timesteps = None if timesteps is None else check_ints(
            owner, 'timesteps', timesteps, low=0)
        self.keep_probs = keep_probs

    def refine_masks(
            self,
            model,
            images: Sequence[Tensor],
            masks: Sequence[Tensor],
            seeds: Optional[Sequence[Optional[int]]] = None,
            return_probs: bool = False,
            return_scores: bool = False,
            instance_offsets: Optional[Sequence[int]] = None) -> Union[List[Tensor], tuple]:
        """Refine the instance masks of a batch of images.

        Args:
            model: the ``SegRefiner`` (``model_size`` and ``refine``).
            images (Sequence[Tensor]): per image a (3, H, W) normalized float
                tensor.
            masks (Sequence[Tensor]): per image an (N_i, H, W) bool tensor of
                coarse instance masks (N_i may be 0).
            seeds (Sequence[int | None], optional): per image the seed of its
                sampling; instance ``k`` of image ``i`` samples from a generator
                seeded with ``mask_seed(seeds[i], k)``. None (or None entries):
                torch's global random state.
            return_probs (bool): also return the pasted refined probabilities.
                Defaults to False.
            return_scores (bool): also return each instance's refinement
                confidence (:func:`.confidence.refinement_confidence` of its
                probability). Defaults to False.
            instance_offsets (Sequence[int], optional): per image the index of
                its first mask among all of the image's instances (a dataset
                giving an image's detections in batches): mask ``k`` is then
                seeded as instance ``offset + k``, so a batch gets the masks the
                whole list would. Defaults to 0 for every image.

        Returns:
            list[Tensor] | tuple[list[Tensor], list[Tensor]]: per image an
            (N_i, H, W) bool tensor, the refined masks in the order given
            (instances under ``min_area`` unchanged). With ``return_probs``,
            ``(masks, probs)``: ``probs`` holds per image an (N_i, H, W) float32
            tensor in [0, 1], the refined probability resized into the box (0
            outside it), so that ``mask == (prob >= refined_threshold)``; for
            instances kept coarse it is the coarse mask as 0/1. With
            ``return_scores``, the tuple ends with per image an (N_i,) float32
            tensor of refinement confidences in [0, 1] (1 for an instance kept
            coarse).
        """
        if len(images) != len(masks):
            raise ValueError(f'InstanceRefiner: {len(images)} images but {len(masks)} mask sets')
        if seeds is None:
            seeds = [None] * len(images)
        elif len(seeds) != len(images):
            raise ValueError(f'InstanceRefiner: {len(images)} images but {len(seeds)} seeds')
        coarse_masks, refined, scores, jobs = [], [], [], []
        probs: Optional[List[Tensor]] = [] if return_probs else None
        for image_index, (image, image_masks) in enumerate(zip(images, masks)):
            if image_masks.dim() != 3 or image_masks.shape[-2:] != image.shape[-2:]:
                raise ValueError(f'InstanceRefiner: masks of image {image_index} have shape '
                                 f'{tuple(image_masks.shape)}, expected (N, {image.shape[-2]}, '
                                 f'{image.shape[-1]}) to match the image')
            image_masks = image_masks.to(image.device, torch.bool)
            coarse_masks.append(image_masks)
            refined.append(image_masks.clone())
            scores.append(torch.ones(len(image_masks), device=image.device))
            if probs is not None:
                probs.append(image_masks.float())
            offset = 0 if instance_offsets is None else int(instance_offsets[image_index])
            jobs.extend(self._crop_jobs(image_index, image_masks, seeds[image_index], offset))
        for start in range(0, len(jobs), self.batch_size):
            self._refine_batch(model, images, coarse_masks, refined, probs, scores,
                               jobs[start:start + self.batch_size])
        extra = ([probs] if return_probs else []) + ([scores] if return_scores else [])
        return (refined, *extra) if extra else refined

    def predict(self, model, inputs: Union[Tensor, Sequence[Tensor]], data_samples: list) -> list:
        """Refine each data sample's masks in SegRefiner's ``'instance'`` mode.

        Two kinds of data samples, as the datasets and the detector chain give
        them (a batch may mix them):

        - a ``DetDataSample`` with ``pred_instances.masks`` (``(N_i, H, W)``
          at its image's size; ``bboxes``, ``labels``, ``scores`` pass
          through): the masks are replaced by the refined ones, the coarse
          ones kept as ``pred_instances.coarse_masks``, and each instance's
          refinement confidence (:mod:`.confidence`; ``scores`` unchanged) is
          ``pred_instances.refine_scores`` ((N_i,) float32 in [0, 1]), and with
          ``keep_probs`` the pasted probabilities ``pred_instances.mask_probs``;
        - a ``RefineDataSample`` with one ``coarse_mask`` (``1xHxW``, e.g. from
          ``MaskFolderDataset``): refined as the image's one instance, written
          as ``pred_mask = PixelData(data=(1, H, W) bool, prob=(1, H, W)
          float)``, as the global-local mode writes it.

        Args:
            model: the ``SegRefiner``; its ``sample_seeds`` (from
                ``test_cfg.seed`` and each sample's name) seed the sampling.
            inputs (Tensor | Sequence[Tensor]): normalized images at their
                full resolution, an (N, 3, H, W) tensor or a list of (3, H, W).
            data_samples (list): the data samples of ``inputs``.

        Returns:
            list: the same data samples, with their refined masks.
        """
        images = list(inputs)
        if len(images) != len(data_samples):
            raise ValueError(f'InstanceRefiner: {len(images)} images but '
                             f'{len(data_samples)} data samples')
        masks = [
            self._coarse_masks_of(image, data_sample, index)
            for index, (image, data_sample) in enumerate(zip(images, data_samples))
        ]
        seeds = model.sample_seeds(data_samples) if hasattr(model, 'sample_seeds') else None
        # Probabilities for pred_mask; a detector's many instances hold N_i maps: on request.
        with_probs = self.keep_probs or any('pred_instances' not in data_sample
                                            for data_sample in data_samples)
        offsets = [data_sample.metainfo.get('instance_offset', 0) for data_sample in data_samples]
        out = self.refine_masks(
            model,
            images,
            masks,
            seeds=seeds,
            return_probs=with_probs,
            return_scores=True,
            instance_offsets=offsets)
        refined, scores = out[0], out[-1]
        probs = out[1] if with_probs else [None] * len(images)
        for data_sample, coarse, sample_masks, sample_probs, sample_scores in zip(
                data_samples, masks, refined, probs, scores):
            if 'pred_instances' in data_sample:
                data_sample.pred_instances.coarse_masks = coarse  # kept for before / after views
                data_sample.pred_instances.masks = sample_masks
                data_sample.pred_instances.refine_scores = sample_scores
                if self.keep_probs:
                    data_sample.pred_instances.mask_probs = sample_probs
            else:
                data_sample.pred_mask = PixelData(data=sample_masks, prob=sample_probs)
        return data_samples

    @staticmethod
    def _coarse_masks_of(image: Tensor, data_sample, index: int) -> Tensor:
        """The ``(N, H, W)`` bool coarse masks of a data sample (see :meth:`predict`)."""
        name = data_sample.metainfo.get('img_path', f'sample {index} of the batch')
        if 'pred_instances' in data_sample and 'masks' in data_sample.pred_instances:
            masks, what = as_bool_masks(data_sample.pred_instances.masks), 'pred_instances.masks'
        elif 'coarse_mask' in data_sample:
            masks, what = data_sample.coarse_mask.data.to(image.device) > 0, 'coarse_mask'
        else:
            raise ValueError(
                f'InstanceRefiner: {name} has neither pred_instances.masks (the masks a '
                f'detector predicted: CocoResultsRefineDataset or RefinedDetector put them '
                f'there) nor a coarse_mask (a mask dataset such as MaskFolderDataset)')
        if masks.dim() != 3 or masks.shape[-2:] != image.shape[-2:]:
            raise ValueError(f'InstanceRefiner: {what} of {name} have shape '
                             f'{tuple(masks.shape)}, the image {tuple(image.shape[-2:])}')
        return masks

    def _crop_jobs(self,
                   image_index: int,
                   masks: Tensor,
                   seed: Optional[int],
                   offset: int = 0) -> List[_CropJob]:
        """The instances of one image large enough to refine, with their boxes."""
        areas = masks.flatten(1).sum(dim=1)
        keep = torch.nonzero(areas >= max(self.min_area, 1)).flatten()
        if keep.numel() == 0:
            return []
        boxes = expanded_mask_boxes(masks[keep], self.box_padding)
        return [
            _CropJob(image_index, instance, *box, seed=mask_seed(seed, offset + instance))
            for instance, box in zip(keep.tolist(), boxes.tolist())
        ]

    def _refine_batch(self, model, images: Sequence[Tensor], coarse_masks: Sequence[Tensor],
                      refined: List[Tensor], probs: Optional[List[Tensor]], scores: List[Tensor],
                      jobs: Sequence[_CropJob]) -> None:
        """Crop, refine and paste one network batch into ``refined`` and ``scores`` (and
        ``probs`` if given)."""
        size = (model.model_size, model.model_size)
        crops, coarse = [], []
        for job in jobs:
            image = images[job.image_index]
            crops.append(_resize(image[None, :, job.y0:job.y1, job.x0:job.x1].float(), size))
            mask = coarse_masks[job.image_index][job.instance_index, job.y0:job.y1, job.x0:job.x1]
            coarse.append(
                (_resize(mask[None, None].float(), size) >= self.coarse_threshold).float())
        generators = make_generators([job.seed for job in jobs], crops[0].device)
        crop_probs = model.refine(
            torch.cat(crops), torch.cat(coarse), timesteps=self.timesteps,
            generator=generators)['prob']
        max_change = max_change_of(model)
        for job, prob in zip(jobs, crop_probs.float()):
            box_prob = _resize(prob[None], (job.y1 - job.y0, job.x1 - job.x0))[0, 0]
            if max_change is not None:
                box_prob = self._limit_change(coarse_masks[job.image_index][job.instance_index],
                                              box_prob, job, max_change)
            scores[job.image_index][job.instance_index] = refinement_confidence(
                box_prob, self.refined_threshold)
            instance = refined[job.image_index][job.instance_index]
            instance.zero_()
            instance[job.y0:job.y1, job.x0:job.x1] = box_prob >= self.refined_threshold
            if probs is not None:
                instance_prob = probs[job.image_index][job.instance_index]
                instance_prob.zero_()
                instance_prob[job.y0:job.y1, job.x0:job.x1] = box_prob

    def _limit_change(self, coarse: Tensor, box_prob: Tensor, job: _CropJob,
                      max_change: dict) -> Tensor:
        """The guard (:mod:`.guard`) on a box's probability, at image resolution.

        Judged on the box grown by one pixel (clipped to the image), so that a
        coarse boundary on the box's edge is seen; outside the box the refined
        mask is background, as the paste makes it.
        """
        height, width = coarse.shape[-2:]
        y0, x0 = max(job.y0 - 1, 0), max(job.x0 - 1, 0)
        y1, x1 = min(job.y1 + 1, height), min(job.x1 + 1, width)
        prob = box_prob.new_zeros((y1 - y0, x1 - x0))
        inner = (slice(job.y0 - y0, job.y1 - y0), slice(job.x0 - x0, job.x1 - x0))
        prob[inner] = box_prob
        prob = limit_change(coarse[y0:y1, x0:x1], prob, self.refined_threshold, max_change)
        return prob[inner]
