"""Any MMDetection detector followed by SegRefiner's instance-mode refinement."""
import copy
from mmdet.structures import DetDataSample
from torch import Tensor
from typing import List, Optional, Union

from mmseg_refiner.registry import MODELS
from .base_chain import BaseRefinementChain, ModelConfig


@MODELS.register_module()
class RefinedDetector(BaseRefinementChain):
    """An mmdet detector whose instance masks SegRefiner refines.

    The detector is built from its own config in the ``mmdet`` scope (the
    chain configs take ``_base_.model`` of any mmdet config); the refiner is a
    ``SegRefiner`` config in ``'instance'`` test mode. Preprocessing, the
    original-size image, freezing and weights are those of every chain
    (:class:`~.base_chain.BaseRefinementChain`): the detector sees exactly
    what it sees alone, its own ``data_preprocessor`` applied once to the raw
    batch, whatever top-level ``data_preprocessor`` the config has (mmdet's
    Mask2Former configs have one).

    :meth:`predict` runs ``detector.predict(..., rescale=True)``, so masks,
    boxes, labels and scores come back at the *original* image size, and
    refines every mask there (the paper refines crops of the original image).

    The output is the detector's ``DetDataSample`` list with
    ``pred_instances.masks`` replaced by the refined (N, H, W) bool masks,
    which mmdet's ``CocoMetric``, ``LVISMetric`` and ``DetLocalVisualizer``
    consume unchanged; the detector's masks stay beside them as
    ``pred_instances.coarse_masks`` (the "before" of a before / after picture),
    and its boxes, labels and scores pass through unchanged.

    Args:
        detector (dict | nn.Module): config of any mmdet detector predicting
            masks (built in the ``mmdet`` scope unless it names another
            ``_scope_``), or the model.
        refiner (dict | nn.Module): config of a ``SegRefiner`` with an
            ``instance_refiner`` and ``test_cfg.mode='instance'``.
        detector_checkpoint (str, optional): the detector's weights (an mmdet
            checkpoint: path or URL).
        refiner_checkpoint (str, optional): the refiner's weights: a
            ``SegRefiner`` checkpoint or the authors' published one.
        allow_untrained_refiner (bool): run without ``refiner_checkpoint``
            (tests only). Defaults to False.
        backbone (dict, optional): merged into the detector's backbone config.
            ``mmdet.apis.init_detector`` clears ``model.backbone.init_cfg``
            before building; the chain configs set ``backbone=dict(init_cfg=None)``
            (the detector checkpoint holds the backbone).
        data_preprocessor (dict, optional): what MMEngine's Runner hands the
            model (the config's top-level one); not used (see the base class).
        init_cfg (dict, optional): MMEngine initialization config of the chain.
    """

    upstream_name = 'detector'
    upstream_scope = 'mmdet'
    refiner_mode = 'instance'

    def __init__(self,
                 detector: ModelConfig,
                 refiner: ModelConfig,
                 detector_checkpoint: Optional[str] = None,
                 refiner_checkpoint: Optional[str] = None,
                 allow_untrained_refiner: bool = False,
                 backbone: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if backbone and isinstance(detector, dict):
            detector = copy.deepcopy(dict(detector))
            detector['backbone'] = {**detector['backbone'], **backbone}
        super().__init__(
            detector,
            refiner,
            upstream_checkpoint=detector_checkpoint,
            refiner_checkpoint=refiner_checkpoint,
            allow_untrained_refiner=allow_untrained_refiner,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)

    def predict(self,
                inputs: Union[Tensor, List[Tensor]],
                data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Detect, then refine every predicted mask at the original image size.

        Args:
            inputs (Tensor | list[Tensor]): the raw (3, h, w) uint8 BGR images
                of the test pipeline, as a list or stacked.
            data_samples (list[DetDataSample]): with ``ori_shape``,
                ``img_shape`` and ``scale_factor`` meta information.
            rescale (bool): must be True: masks are refined, and returned, at
                the original image size.

        Returns:
            list[DetDataSample]: the detector's predictions with refined
            ``pred_instances.masks`` (N, H, W) bool at ``ori_shape``.
        """
        if not rescale:
            raise ValueError('RefinedDetector refines masks at the original image size; '
                             'predict(rescale=False) is not supported')
        detections = self._upstream_predict(inputs, data_samples, rescale=True)
        for index, sample in enumerate(detections):
            if 'masks' not in sample.pred_instances:
                raise ValueError(
                    f'RefinedDetector: {type(self.detector).__name__} predicted no masks for '
                    f'{sample.metainfo.get("img_path", f"sample {index}")}; chain a detector '
                    f'with a mask head (e.g. Mask R-CNN)')
        return self.refiner.predict(self._original_images(inputs, detections), detections)
