"""Any MMSegmentation segmentor followed by SegRefiner in global-local mode."""
import torch
from mmengine.structures import PixelData
from torch import Tensor
from typing import List, Optional, Sequence, Tuple, Union

from mmseg_refiner.registry import MODELS
from ..refiners.seeding import mask_seed
from .base_chain import BaseRefinementChain, ModelConfig


@MODELS.register_module()
class RefinedSegmentor(BaseRefinementChain):
    """An mmseg segmentor whose prediction is refined class by class.

    The segmentor (any mmseg model, built in the ``mmseg`` scope) predicts a
    label map at the original image size. Each class present in it is refined
    as a binary mask by the refiner's ``global_local_refiner``
    (``GlobalLocalRefiner``) at the original resolution; every pixel takes
    the class with the highest refined probability, and keeps its original
    label where no refined mask claims it (all refined probabilities below the
    refiner's threshold). ``predict`` returns the segmentor's
    ``SegDataSample`` s with the refined ``pred_sem_seg`` (and the original
    one as ``coarse_sem_seg``; ``seg_logits`` stay the segmentor's) and
    ``refine_probs`` (``PixelData``, ``1 x H x W`` float32: per pixel the
    highest refined probability over the classes, the refiner's confidence
    in its label where it is at least the threshold), so
    mmseg's ``IoUMetric``, ``SegLocalVisualizer`` and test loop work
    unchanged.

    Preprocessing, the original-size image, freezing and weights are those of
    every chain (:class:`~.base_chain.BaseRefinementChain`): the segmentor
    sees exactly what it sees alone, its own ``data_preprocessor`` applied
    once to the raw batch, although every mmseg config also has a top-level
    ``data_preprocessor`` that MMEngine's Runner hands the model.

    Args:
        segmentor (dict | nn.Module): an mmseg segmentor config (built in the
            ``mmseg`` scope unless it names its own ``_scope_``) or model.
        refiner (dict | nn.Module): the ``SegRefiner`` config or model, with a
            ``global_local_refiner`` and ``test_cfg.mode='global_local'``.
        segmentor_checkpoint (str, optional): the segmentor's weights (an
            mmseg checkpoint: path or URL).
        refiner_checkpoint (str, optional): the refiner's weights: a
            ``SegRefiner`` checkpoint or the authors' published one.
        allow_untrained_refiner (bool): run without ``refiner_checkpoint``
            (tests only). Defaults to False.
        pretrained, train_cfg: only None. ``mmseg.apis.init_model`` sets both
            to None on the model config before building; this chain never
            trains and its parts load from the checkpoint settings.
        data_preprocessor (dict, optional): what MMEngine's Runner hands the
            model (the config's top-level one); not used (see the base class).
        init_cfg (dict, optional): MMEngine initialization config.
    """

    upstream_name = 'segmentor'
    upstream_scope = 'mmseg'
    refiner_mode = 'global_local'

    def __init__(self,
                 segmentor: ModelConfig,
                 refiner: ModelConfig,
                 segmentor_checkpoint: Optional[str] = None,
                 refiner_checkpoint: Optional[str] = None,
                 allow_untrained_refiner: bool = False,
                 pretrained: None = None,
                 train_cfg: None = None,
                 data_preprocessor: Optional[ModelConfig] = None,
                 init_cfg: Optional[dict] = None) -> None:
        for name, value in (('pretrained', pretrained), ('train_cfg', train_cfg)):
            if value is not None:
                raise ValueError(f'RefinedSegmentor: model.{name} must be None (this chain only '
                                 f'predicts; set model.segmentor_checkpoint for weights)')
        super().__init__(
            segmentor,
            refiner,
            upstream_checkpoint=segmentor_checkpoint,
            refiner_checkpoint=refiner_checkpoint,
            allow_untrained_refiner=allow_untrained_refiner,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)

    @torch.no_grad()
    def predict(self, inputs: Union[Tensor, List[Tensor]], data_samples: list) -> list:
        """Segment, then refine each class of each image.

        Args:
            inputs: the raw batch as the mmseg pipeline packs it: ``(3, H, W)``
                BGR images (a list or a stacked tensor), not normalized.
            data_samples: mmseg ``SegDataSample`` s with the usual meta
                information (``ori_shape``, ``img_path``...).

        Returns:
            The segmentor's ``SegDataSample`` s with the refined
            ``pred_sem_seg`` (``1 x H x W`` at the original size), the
            original prediction as ``coarse_sem_seg`` and the refined
            probabilities as ``refine_probs`` (class docstring).
        """
        results = self._upstream_predict(inputs, data_samples)
        images = self._original_images(inputs, results)
        label_maps = [sample.pred_sem_seg.data[0] for sample in results]
        refined = self.refine_label_maps(images, label_maps, self.refiner.sample_seeds(results))
        for sample, labels, (refined_labels, prob) in zip(results, label_maps, refined):
            sample.coarse_sem_seg = PixelData(data=labels[None].clone())
            sample.pred_sem_seg = PixelData(data=refined_labels[None])
            sample.refine_probs = PixelData(data=prob[None])
        return results

    def refine_label_maps(
            self,
            images: Sequence[Tensor],
            label_maps: Sequence[Tensor],
            seeds: Optional[Sequence[Optional[int]]] = None) -> List[Tuple[Tensor, Tensor]]:
        """Refine label maps class by class, the classes of all images sharing network batches.

        Args:
            images: per image a ``(3, H, W)`` image normalized for the refiner.
            label_maps: per image its ``(H, W)`` integer label map.
            seeds: per image its sample's seed; class ``c`` is sampled with
                ``mask_seed(seed, c)``. None: torch's global random state.

        Returns:
            Per image ``(labels, probs)``: the ``(H, W)`` refined label map
            (same dtype), each pixel taking the class with the highest refined
            probability if that probability reaches the refiner's threshold,
            its original label otherwise; and the ``(H, W)`` float32 highest
            refined probability of each pixel (over the classes).
        """
        global_local_refiner = self.refiner.global_local_refiner
        seeds = [None] * len(images) if seeds is None else seeds
        label_maps = [labels.to(image.device) for image, labels in zip(images, label_maps)]
        owners, classes, mask_images, masks, mask_seeds = [], [], [], [], []
        for index, (image, labels, seed) in enumerate(zip(images, label_maps, seeds)):
            for label in labels.unique().tolist():
                owners.append(index)
                classes.append(label)
                mask_images.append(image)
                masks.append(labels == label)
                mask_seeds.append(mask_seed(seed, label))
        best_probs = [
            torch.zeros(labels.shape, dtype=torch.float32, device=labels.device)
            for labels in label_maps
        ]
        best_labels = [labels.clone() for labels in label_maps]
        refined = global_local_refiner.refine_masks(self.refiner, mask_images, masks, mask_seeds)
        for index, label, (_, prob) in zip(owners, classes, refined):
            better = prob > best_probs[index]
            best_probs[index] = torch.where(better, prob, best_probs[index])
            best_labels[index][better] = label
        threshold = global_local_refiner.threshold
        return [(torch.where(best_prob >= threshold, best_label, labels), best_prob)
                for labels, best_label, best_prob in zip(label_maps, best_labels, best_probs)]
