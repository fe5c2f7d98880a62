"""Global-local mode: SegRefiner's high-resolution inference (global pass, local patches).

A high-resolution image cannot go through the network at full size, so the
paper refines it in two stages (the model is the ``SegRefiner`` passed in;
this module has no parameters):

1. **Global.** Image and coarse mask are resized to the model resolution
   ``s x s`` and the reverse diffusion runs steps ``t = 5..1``. The refined
   probability is resized back to full resolution and thresholded; the
   cumulative fine-probability map ``c`` (how sure the diffusion is that a
   pixel has reached its fine state) is kept at model resolution.
2. **Local.** Pixels the global pass is unsure about (``c < 0.9 * max(c)``)
   become patch centres. Each centre gives a ``256 x 256`` box *at full
   resolution*, scored ``1 - c``; non-maximum suppression thins them out, and
   boxes whose current mask is all foreground or all background are dropped.
   Each patch (image crop, current mask crop, ``c`` crop) runs the last step
   ``t = 0``. Patch probabilities are averaged where patches overlap and
   replace the global probability where patches cover.
3. With ``test_cfg.max_change`` the do-no-harm guard (:mod:`.guard`) limits
   the change of the merged mask at full resolution.

Batching: the masks of a batch (the samples of a data batch, the classes of
a label map) share network calls, ``batch_size`` masks per global call and
``batch_size`` patches per local call whatever mask they belong to, so a GPU
or a many-core CPU stays busy on a batch of small images too.

Memory stays bounded for very large images: per mask of a global batch the
full-resolution tensors are the global probability and the current mask
(5 bytes a pixel, less than its float image), plus one sum and one count map
while its patches are being merged. ``c`` is upsampled only inside each patch.
"""
import torch
import torch.nn.functional as F
from dataclasses import dataclass
from mmcv.ops import nms
from mmengine.structures import PixelData
from torch import Tensor
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

from mmseg_refiner.registry import MODELS
from mmseg_refiner.utils.settings import check_float, check_int, check_ints
from .guard import limit_change, max_change_of
from .seeding import derive_seed, make_generators, mask_seed

#: Modes accepted for resizing the inputs to the model resolution.
INPUT_INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic', 'area')
#: Modes accepted for resizing probabilities and ``c`` back to full resolution.
#: Limited to the two that :func:`resize_region` reproduces exactly.
PROB_INTERPOLATIONS = ('nearest', 'bilinear')
#: How a model-resolution patch centre ``i`` maps to a full-resolution pixel:
#: ``'corner'`` ``floor(i * H / h)`` (the authors' evaluation), ``'centre'``
#: ``floor((i + 0.5) * H / h)`` (the pixel under the cell's centre).
CENTRE_MAPPINGS = ('corner', 'centre')

Box = Tuple[int, int, int, int]


@dataclass(eq=False)
class _MaskJob:
    """One mask being refined: its inputs, then what its global pass gave."""
    index: int  # in the masks given to refine_masks
    image: Tensor  # (3, H, W)
    mask: Tensor  # (H, W) bool coarse mask
    seed: Optional[int]
    global_prob: Optional[Tensor] = None  # (H, W)
    cum_fine: Optional[Tensor] = None  # (1, h, w) c at model resolution
    current: Optional[Tensor] = None  # (H, W) bool mask after the global pass
    patches_left: int = 0  # patches not merged yet


class _Patch(NamedTuple):
    """Local patch ``index`` (its seed's index) of a mask, at full-resolution ``box``."""
    job: _MaskJob
    index: int
    box: Box


def _source_positions(start: int,
                      stop: int,
                      in_size: int,
                      out_size: int,
                      mode: str,
                      device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """Source indices and weights of output positions ``start..stop-1``.

    Reproduces the arithmetic of ``F.interpolate`` (``align_corners=False``)
    when resizing an axis of ``in_size`` to ``out_size``, for a slice of the
    output only: returns ``(i0, i1, w1)`` with output = ``(1 - w1) * in[i0] +
    w1 * in[i1]`` (for ``'nearest'`` ``i1 = i0`` and ``w1 = 0``), made on
    ``device`` (no host-to-device copy per patch).
    """
    scale = torch.tensor(in_size / out_size, dtype=torch.float32, device=device)
    dst = torch.arange(start, stop, dtype=torch.float32, device=device)
    if mode == 'nearest':
        i0 = (dst * scale).floor().long().clamp(max=in_size - 1)
        return i0, i0, torch.zeros_like(dst)
    src = ((dst + 0.5) * scale - 0.5).clamp(min=0)
    i0 = src.floor().long().clamp(max=in_size - 1)
    i1 = (i0 + 1).clamp(max=in_size - 1)
    return i0, i1, src - i0


def resize_region(small: Tensor, full_shape: Tuple[int, int], box: Box, mode: str) -> Tensor:
    """One box of ``small`` resized to ``full_shape``, without the full map.

    Equals ``F.interpolate(small[None], full_shape, mode=mode)[0, :, y1:y2,
    x1:x2]`` (``align_corners=False``) but costs only the box's pixels.

    Args:
        small: ``(C, h, w)`` float map.
        full_shape: ``(H, W)`` the map is (virtually) resized to.
        box: ``(x1, y1, x2, y2)`` in full-resolution pixels, end exclusive.
        mode: ``'nearest'`` or ``'bilinear'``.

    Returns:
        ``(C, y2 - y1, x2 - x1)`` tensor.
    """
    if mode not in PROB_INTERPOLATIONS:
        raise ValueError(f'resize_region supports {PROB_INTERPOLATIONS}, got {mode!r}')
    x1, y1, x2, y2 = box
    h, w = small.shape[-2:]
    r0, r1, rw = _source_positions(y1, y2, h, full_shape[0], mode, small.device)
    c0, c1, cw = _source_positions(x1, x2, w, full_shape[1], mode, small.device)
    if mode == 'nearest':
        return small[:, r0][:, :, c0]
    rows = small[:, r0] * (1 - rw)[:, None] + small[:, r1] * rw[:, None]
    return rows[:, :, c0] * (1 - cw) + rows[:, :, c1] * cw


def _interpolate(x: Tensor, size: Tuple[int, int], mode: str) -> Tensor:
    """``F.interpolate`` of a float ``(N, C, h, w)`` tensor with ``align_corners=False``."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    align = False if mode in ('bilinear', 'bicubic') else None
    return F.interpolate(x, size=size, mode=mode, align_corners=align)


def _resize_mask(mask: Tensor, size: Tuple[int, int], mode: str, threshold: float) -> Tensor:
    """Binary ``(N, 1, h, w)`` or ``(h, w)`` mask resized to a ``(N, 1, *size)`` float {0, 1}.

    ``'nearest'`` gathers rows and columns of the mask directly, so a huge
    boolean mask is never copied to float at full resolution.
    """
    mask = mask.reshape(-1, 1, *mask.shape[-2:])
    if mode == 'nearest':
        rows, _, _ = _source_positions(0, size[0], mask.shape[-2], size[0], 'nearest', mask.device)
        cols, _, _ = _source_positions(0, size[1], mask.shape[-1], size[1], 'nearest', mask.device)
        return mask[:, :, rows][:, :, :, cols].float()
    return (_interpolate(mask.float(), size, mode) >= threshold).float()


class PatchMerge:
    """Average patch probabilities where patches overlap; keep the global probability elsewhere.

    The sum and count maps are made at the first patch, so a mask without
    patches costs nothing.

    Args:
        global_prob: ``(H, W)`` probability of the global pass at full
            resolution. Not modified.
    """

    def __init__(self, global_prob: Tensor) -> None:
        self.global_prob = global_prob
        self._sum: Optional[Tensor] = None
        self._count: Optional[Tensor] = None

    def add(self, prob: Tensor, box: Box) -> None:
        """Add the probability ``(y2 - y1, x2 - x1)`` of the patch ``box`` ``(x1, y1, x2, y2)``."""
        if self._sum is None:
            self._sum = torch.zeros_like(self.global_prob, dtype=torch.float32)
            self._count = torch.zeros(
                self.global_prob.shape, dtype=torch.int16, device=self.global_prob.device)
        x1, y1, x2, y2 = box
        self._sum[y1:y2, x1:x2] += prob
        self._count[y1:y2, x1:x2] += 1

    def result(self) -> Tensor:
        """``(H, W)`` merged probability: inside the union of the patches the mean
        of the patch probabilities covering each pixel, elsewhere the global one."""
        merged = self.global_prob.clone()
        if self._sum is not None:
            covered = self._count > 0
            merged[covered] = (self._sum[covered] / self._count[covered]).to(merged.dtype)
        return merged


@MODELS.register_module()
class GlobalLocalRefiner:
    """SegRefiner's global-local mode: a global pass, then local full-resolution patches.

    Has no parameters; it drives the ``SegRefiner`` it is given through
    ``model.refine(images, coarse, timesteps, cum_fine, generator)`` and
    ``model.model_size``.

    Args:
        min_fg_pixels (int): a coarse mask with at most this many foreground
            pixels is returned unchanged. Defaults to 128.
        interpolation (str): how image and coarse mask are resized to the
            model resolution, for the global pass and for patches whose size
            differs from it (one of ``'nearest'``, ``'bilinear'``,
            ``'bicubic'``, ``'area'``), one mode for both; the published models
            were evaluated with ``'nearest'``. Masks resized with another mode
            are binarized at ``threshold``. ``'nearest'`` takes the first pixel
            of each block, which shifts edges by half a block: even a network
            that returned its input would give back a mask downscaled 2-3x at
            about 0.975-0.98 IoU, against about 0.99-0.995 with ``'bilinear'``
            (measured on the unit tests' shapes). Defaults to ``'nearest'``.
        prob_interpolation (str): how the global probability and ``c`` are
            resized to full resolution, and patch probabilities back to their
            box (``'nearest'`` as in the published evaluation, or
            ``'bilinear'``, smoother where no patch covers the boundary).
            Defaults to ``'nearest'``.
        global_timesteps (Sequence[int]): reverse steps of the global pass.
            Defaults to ``(5, 4, 3, 2, 1)``.
        local_timesteps (Sequence[int]): reverse steps of each patch, after
            the global ones. Defaults to ``(0,)``. Together the two are a
            strictly decreasing sub-sequence of the diffusion's steps; fewer
            steps (e.g. ``(5, 3)`` and ``(0,)``) skip network calls, each step
            going to the next one run (the last global step to the first
            local one), as ``DiscreteMaskDiffusion.sample`` defines.
        fine_prob_ratio (float): model-resolution pixels with
            ``c < fine_prob_ratio * max(c)`` are patch centres. Defaults to 0.9.
        patch_size (int): side of a local patch in full-resolution pixels.
            On an image side shorter than this the patch is clipped to the
            whole side (the patch is then not square and is resized to the
            model resolution like any patch whose size differs from it).
            Defaults to 256.
        nms_iou_thr (float): IoU threshold of the non-maximum suppression of
            patch boxes. Defaults to 0.3.
        batch_size (int): masks per global network call, and patches (of
            any of those masks) per local call. Defaults to 32.
        threshold (float): probability threshold of the binary masks.
            Defaults to 0.5.
        centre_mapping (str): how a model-resolution patch centre ``i`` maps
            to full resolution: ``'corner'``, ``floor(i * H / h)``, as the
            authors' evaluation does, or ``'centre'``, ``floor((i + 0.5) * H /
            h)``, which moves each patch by up to half a cell (and changes the
            refined masks). Defaults to ``'corner'``.

    Sampling: the global pass of a mask draws from a generator seeded with the
    mask's seed, patch ``j`` (in the order of :meth:`select_patches`) from one
    seeded with ``derive_seed(seed, 'patch', j)``, so the result does not
    depend on ``batch_size``.
    """

    def __init__(self,
                 min_fg_pixels: int = 128,
                 interpolation: str = 'nearest',
                 prob_interpolation: str = 'nearest',
                 global_timesteps: Sequence[int] = (5, 4, 3, 2, 1),
                 local_timesteps: Sequence[int] = (0, ),
                 fine_prob_ratio: float = 0.9,
                 patch_size: int = 256,
                 nms_iou_thr: float = 0.3,
                 batch_size: int = 32,
                 threshold: float = 0.5,
                 centre_mapping: str = 'corner') -> None:
        if interpolation not in INPUT_INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {INPUT_INTERPOLATIONS}, '
                             f'got {interpolation!r}')
        if prob_interpolation not in PROB_INTERPOLATIONS:
            raise ValueError(f'prob_interpolation must be one of {PROB_INTERPOLATIONS}, '
                             f'got {prob_interpolation!r}')
        owner = 'GlobalLocalRefiner'
        min_fg_pixels = check_int(owner, 'min_fg_pixels', min_fg_pixels, low=0)
        fine_prob_ratio = check_float(owner, 'fine_prob_ratio', fine_prob_ratio, 0, 1)
        patch_size = check_int(owner, 'patch_size', patch_size, low=1)
        nms_iou_thr = check_float(owner, 'nms_iou_thr', nms_iou_thr, 0, 1)
        batch_size = check_int(owner, 'batch_size', batch_size, low=1)
        threshold = check_float(owner, 'threshold', threshold, 0, 1)
        global_timesteps = check_ints(owner, 'global_timesteps', global_timesteps, low=0)
        local_timesteps = check_ints(owner, 'local_timesteps', local_timesteps, low=0)
        if centre_mapping not in CENTRE_MAPPINGS:
            raise ValueError(f'centre_mapping must be one of {CENTRE_MAPPINGS}, '
                             f'got {centre_mapping!r}')
        if not global_timesteps or not local_timesteps:
            raise ValueError('global_timesteps and local_timesteps must not be empty')
        steps = [int(t) for t in (*global_timesteps, *local_timesteps)]
        if any(b >= a for a, b in zip(steps, steps[1:])) or steps[-1] < 0:
            raise ValueError(f'global_timesteps followed by local_timesteps must be strictly '
                             f'decreasing steps >= 0, got {tuple(global_timesteps)} and '
                             f'{tuple(local_timesteps)}')
        self.min_fg_pixels = min_fg_pixels
        self.interpolation = interpolation
        self.prob_interpolation = prob_interpolation
        self.global_timesteps = tuple(int(t) for t in global_timesteps)
        self.local_timesteps = tuple(int(t) for t in local_timesteps)
        self.fine_prob_ratio = fine_prob_ratio
        self.patch_size = patch_size
        self.nms_iou_thr = nms_iou_thr
        self.batch_size = batch_size
        self.threshold = threshold
        self.centre_mapping = centre_mapping

    def predict(self, model, inputs, data_samples: list) -> list:
        """Refine each sample's ``coarse_mask`` at its image's full resolution.

        Sampling follows ``model.sample_seeds`` (``test_cfg['seed']`` and
        each sample's name); the sample's one mask has index 0. The samples
        of a batch share network calls (:meth:`refine_masks`).

        Args:
            model: the ``SegRefiner``.
            inputs: normalized images, a ``(N, 3, H, W)`` tensor or a list of
                ``(3, H_i, W_i)`` tensors (as the data preprocessor gives them).
            data_samples: ``RefineDataSample`` s with ``coarse_mask`` of the
                image's size.

        Returns:
            The same data samples, each with ``pred_mask`` = ``PixelData(data=
            (1, H, W) bool, prob=(1, H, W) float)``.
        """
        if len(inputs) == 0:
            return data_samples
        masks = []
        for index, (image, sample) in enumerate(zip(inputs, data_samples)):
            name = sample.metainfo.get('img_path', f'sample {index} of the batch')
            if 'coarse_mask' not in sample:
                raise ValueError(f'{name} has no coarse_mask to refine')
            coarse = sample.coarse_mask.data.reshape(sample.coarse_mask.data.shape[-2:])
            if tuple(coarse.shape) != tuple(image.shape[-2:]):
                raise ValueError(f'coarse mask of {name} is {tuple(coarse.shape)}, '
                                 f'its image {tuple(image.shape[-2:])} (HxW)')
            masks.append(coarse.to(image.device) > 0)
        seeds = [mask_seed(seed, 0) for seed in model.sample_seeds(data_samples)]
        refined = self.refine_masks(model, list(inputs), masks, seeds)
        for sample, (mask, prob) in zip(data_samples, refined):
            sample.pred_mask = PixelData(data=mask[None], prob=prob[None])
        return data_samples

    def refine_mask(self,
                    model,
                    image: Tensor,
                    mask: Tensor,
                    seed: Optional[int] = None) -> Tuple[Tensor, Tensor]:
        """Refine one binary mask of a high-resolution image (:meth:`refine_masks` of one)."""
        return next(self.refine_masks(model, [image], [mask], [seed]))

    @torch.no_grad()
    def refine_masks(
            self,
            model,
            images: Sequence[Tensor],
            masks: Sequence[Tensor],
            seeds: Optional[Sequence[Optional[int]]] = None) -> Iterator[Tuple[Tensor, Tensor]]:
        """Refine binary masks of high-resolution images, sharing network batches.

        Up to ``batch_size`` masks (of any images) go through the global pass
        in one network call; then their patches, in mask order, go
        ``batch_size`` at a time whatever mask they belong to. A mask's
        result is yielded as soon as its last patch is merged, so memory
        holds the full-resolution maps of one global batch, and the merge
        maps only of masks whose patches are in flight. The result of a mask
        does not depend on the others (per-mask generators, class docstring).

        Args:
            model: the ``SegRefiner`` (``model_size`` and ``refine``).
            images: per mask a ``(3, H, W)`` normalized RGB image; the same
                tensor may serve several masks (the classes of a label map).
            masks: per mask an ``(H, W)`` coarse mask (non-zero = foreground)
                of its image's size.
            seeds: per mask the seed of its sampling; None (or None entries):
                torch's global random state.

        Yields:
            ``(mask, prob)`` per mask, in the order given: ``(H, W)`` bool
            refined mask and ``(H, W)`` float refined probability.
        """
        if len(images) != len(masks):
            raise ValueError(f'{len(images)} images for {len(masks)} masks')
        seeds = [None] * len(masks) if seeds is None else list(seeds)
        if len(seeds) != len(masks):
            raise ValueError(f'{len(seeds)} seeds for {len(masks)} masks')
        done = {}
        pending = []
        next_index = 0
        for index, (image, mask) in enumerate(zip(images, masks)):
            if image.dim() != 3 or tuple(image.shape[-2:]) != tuple(mask.shape):
                raise ValueError(f'refine_masks needs (3, H, W) images and (H, W) masks, got '
                                 f'{tuple(image.shape)} and {tuple(mask.shape)}')
            mask = mask.to(image.device) != 0
            if int(mask.sum()) <= self.min_fg_pixels:
                done[index] = (mask, mask.float())
            else:
                pending.append(_MaskJob(index, image, mask, seeds[index]))
            if len(pending) == self.batch_size or index == len(masks) - 1:
                for job, result in self._refine_jobs(model, pending):
                    done[job.index] = result
                    while next_index in done:
                        yield done.pop(next_index)
                        next_index += 1
                pending = []
        while next_index in done:
            yield done.pop(next_index)
            next_index += 1

    def _refine_jobs(self, model, jobs: List[_MaskJob]) -> Iterator[Tuple[_MaskJob, tuple]]:
        """The global pass of ``jobs`` in one network call, then their patches.

        Yields ``(job, (mask, prob))`` in the order of ``jobs``.
        """
        if not jobs:
            return
        size = (model.model_size, model.model_size)
        small_images = {}
        for job in jobs:
            if id(job.image) not in small_images:
                small_images[id(job.image)] = _interpolate(job.image[None].float(), size,
                                                           self.interpolation)
        out = model.refine(
            torch.cat([small_images[id(job.image)] for job in jobs]),
            torch.cat(
                [_resize_mask(job.mask, size, self.interpolation, self.threshold) for job in jobs]),
            timesteps=self.global_timesteps,
            generator=make_generators([job.seed for job in jobs], jobs[0].image.device),
            next_timestep=self.local_timesteps[0])
        patches = []
        for k, job in enumerate(jobs):
            full_shape = tuple(job.mask.shape)
            prob = _interpolate(out['prob'][k:k + 1].float(), full_shape,
                                self.prob_interpolation)[0, 0]
            job.global_prob = prob
            job.cum_fine = out['cum_fine'][k].float()
            job.current = prob >= self.threshold
            boxes = self.select_patches(job.cum_fine, full_shape, job.current).tolist()
            job.patches_left = len(boxes)
            patches.extend(_Patch(job, j, tuple(box)) for j, box in enumerate(boxes))
        merges = {}
        finished = 0
        for batch, probs in self._refine_patches(model, patches):
            for patch, prob in zip(batch, probs):
                job = patch.job
                merges.setdefault(job.index, PatchMerge(job.global_prob)).add(prob, patch.box)
                job.patches_left -= 1
            while finished < len(jobs) and jobs[finished].patches_left == 0:
                yield jobs[finished], self._finish(model, jobs[finished],
                                                   merges.pop(jobs[finished].index, None))
                finished += 1
        for job in jobs[finished:]:
            yield job, self._finish(model, job, merges.pop(job.index, None))

    def _finish(self, model, job: _MaskJob, merge: Optional[PatchMerge]) -> Tuple[Tensor, Tensor]:
        """The merged probability of a mask, limited by the guard, and its mask."""
        prob = job.global_prob if merge is None else merge.result()
        prob = limit_change(job.mask, prob, self.threshold, max_change_of(model))
        return prob >= self.threshold, prob

    def select_patches(self, cum_fine: Tensor, full_shape: Tuple[int, int], mask: Tensor) -> Tensor:
        """Boxes of the local patches, from the global pass's ``c`` map.

        Candidate centres are the model-resolution pixels with ``c <
        fine_prob_ratio * max(c)``, mapped to full resolution as
        ``centre_mapping`` says (``floor(i * H / h)`` by default). Each gives a ``patch_size``
        box (clipped to a shorter image side) shifted to lie inside the image,
        scored ``1 - c``. After NMS (IoU ``nms_iou_thr``), boxes where ``mask``
        is all foreground or all background are dropped.

        Args:
            cum_fine: ``c`` at model resolution, ``(h, w)`` or ``(1, h, w)``.
            full_shape: ``(H, W)`` of the image.
            mask: ``(H, W)`` bool current (global) mask.

        Returns:
            ``(K, 4)`` long tensor of ``(x1, y1, x2, y2)`` boxes (end
            exclusive), highest score first.
        """
        cum_fine = cum_fine.reshape(cum_fine.shape[-2:])
        height, width = full_shape
        small_h, small_w = cum_fine.shape
        ys, xs = torch.nonzero(cum_fine < self.fine_prob_ratio * cum_fine.max(), as_tuple=True)
        if ys.numel() == 0:
            return torch.zeros((0, 4), dtype=torch.long)
        scores = 1 - cum_fine[ys, xs].float()
        offset = 0.5 if self.centre_mapping == 'centre' else 0.0
        centre_y = ((ys.double() + offset) * height / small_h).floor().long().clamp(max=height - 1)
        centre_x = ((xs.double() + offset) * width / small_w).floor().long().clamp(max=width - 1)
        patch_h, patch_w = min(self.patch_size, height), min(self.patch_size, width)
        y1 = (centre_y - patch_h // 2).clamp(0, height - patch_h)
        x1 = (centre_x - patch_w // 2).clamp(0, width - patch_w)
        boxes = torch.stack([x1, y1, x1 + patch_w, y1 + patch_h], dim=1)
        _, keep = nms(boxes.float().cpu(), scores.cpu(), iou_threshold=self.nms_iou_thr)
        boxes = boxes.cpu()[keep]
        return boxes[self._mixed_boxes(mask, boxes, patch_h, patch_w).cpu()]

    def _mixed_boxes(self, mask: Tensor, boxes: Tensor, height: int, width: int) -> Tensor:
        """Which ``(K, 4)`` boxes of size ``height x width`` hold both foreground and background.

        Counted on ``mask``'s device, ``batch_size`` boxes at a time, with no
        host synchronisation per box.
        """
        boxes = boxes.to(mask.device)
        offsets_y = torch.arange(height, device=mask.device)
        offsets_x = torch.arange(width, device=mask.device)
        counts = []
        for start in range(0, len(boxes), self.batch_size):
            batch = boxes[start:start + self.batch_size]
            rows = batch[:, 1, None] + offsets_y  # (B, h)
            cols = batch[:, 0, None] + offsets_x  # (B, w)
            counts.append(mask[rows[:, :, None], cols[:, None, :]].flatten(1).sum(1))
        counts = torch.cat(counts) if counts else boxes.new_zeros(0)
        return (counts > 0) & (counts < height * width)

    def _refine_patches(self, model,
                        patches: List[_Patch]) -> Iterator[Tuple[List[_Patch], List[Tensor]]]:
        """Run the local steps on ``patches`` (of any masks), ``batch_size`` at a time.

        Yields ``(batch, probs)``: the patches of one network call and their
        probabilities, one ``(y2 - y1, x2 - x1)`` map per patch box.
        """
        size = (model.model_size, model.model_size)
        for start in range(0, len(patches), self.batch_size):
            batch = patches[start:start + self.batch_size]
            images, masks, cum_fines = [], [], []
            for patch in batch:
                job, (x1, y1, x2, y2) = patch.job, patch.box
                image = job.image[None, :, y1:y2, x1:x2].float()
                mask = job.current[None, None, y1:y2, x1:x2]
                cum_fine = resize_region(job.cum_fine, tuple(job.mask.shape), patch.box,
                                         self.prob_interpolation)[None]
                if tuple(image.shape[-2:]) != size:
                    image = _interpolate(image, size, self.interpolation)
                    mask = _resize_mask(mask, size, self.interpolation, self.threshold)
                    cum_fine = _interpolate(cum_fine, size, self.prob_interpolation)
                images.append(image)
                masks.append(mask.float())
                cum_fines.append(cum_fine)
            out = model.refine(
                torch.cat(images),
                torch.cat(masks),
                timesteps=self.local_timesteps,
                cum_fine=torch.cat(cum_fines),
                generator=make_generators([
                    None
                    if patch.job.seed is None else derive_seed(patch.job.seed, 'patch', patch.index)
                    for patch in batch
                ], batch[0].job.image.device))
            probs = [
                _interpolate(out['prob'][k:k + 1].float(),
                             (patch.box[3] - patch.box[1], patch.box[2] - patch.box[0]),
                             self.prob_interpolation)[0, 0] for k, patch in enumerate(batch)
            ]
            yield batch, probs

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(min_fg_pixels={self.min_fg_pixels}, '
                f'interpolation={self.interpolation!r}, '
                f'prob_interpolation={self.prob_interpolation!r}, '
                f'global_timesteps={self.global_timesteps}, '
                f'local_timesteps={self.local_timesteps}, '
                f'fine_prob_ratio={self.fine_prob_ratio}, patch_size={self.patch_size}, '
                f'nms_iou_thr={self.nms_iou_thr}, batch_size={self.batch_size}, '
                f'threshold={self.threshold}, centre_mapping={self.centre_mapping!r})')
