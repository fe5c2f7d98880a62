"""Any MMDetection detector followed by SegRefiner's instance-mode refinement."""
import copy
from typing import List, Optional, Sequence, Union

import torch.nn.functional as F
from mmdet.models.detectors import BaseDetector
from mmdet.structures import DetDataSample
from torch import Tensor, nn

from mmseg_refiner.registry import MODELS
from .upstream import ChainWeights, build_in_scope, refuse_pretrained_init


@MODELS.register_module()
class RefinedDetector(BaseDetector):
    """An mmdet detector whose instance masks SegRefiner refines.

    The detector is built from its own config in the ``mmdet`` scope (the
    chain configs take ``_base_.model`` of any mmdet config) and its
    ``data_preprocessor`` stays inside it; the refiner is a ``SegRefiner``
    config in ``'instance'`` test mode. Both are frozen: eval mode,
    ``requires_grad=False``, and :meth:`train` keeps them in eval mode.

    Weights: ``detector_checkpoint`` and ``refiner_checkpoint`` (paths or
    URLs) are read when the weights are first needed (the first prediction,
    or :meth:`load_weights`), not when the model is built. A checkpoint loaded
    into the whole wrapper (``tools/test.py CONFIG CHECKPOINT``, ``load_from``,
    ``init_detector(config, CHECKPOINT)``) replaces the settings of the parts
    it holds: a combined checkpoint (``detector.*`` and ``refiner.*``, written
    by ``tools/model_converters/combine_chain_checkpoint.py``) both, a refiner
    checkpoint (ours, or the authors' published one) the refiner, an mmdet
    checkpoint the detector. A refiner left without weights is an error unless
    ``allow_untrained_refiner=True``.

    :meth:`predict` runs ``detector.predict(..., rescale=True)``, so masks,
    boxes, labels and scores come back at the *original* image size, and
    refines the masks there: the paper refines crops of the original image,
    and masks rescaled by mmdet are already at that size. The wrapper never
    reads files, so the original image is recovered from the batch input (the
    test pipeline's resized, unpadded image): normalized by the refiner's
    preprocessor, then resized back to ``ori_shape`` (bilinear, anti-aliased
    when shrinking). Cost: one resize per image (a few ms for COCO sizes);
    for COCO's ~640 px images, which mmdet enlarges to ~1333x800, shrinking
    back loses almost nothing, while an image the test pipeline shrank comes
    back blurred by that factor. The test pipeline must not flip or crop.

    Its own ``data_preprocessor`` (default MMEngine's ``BaseDataPreprocessor``)
    only moves the batch to the device: the detector and the refiner each
    normalize the raw images their own way.

    The output is the detector's ``DetDataSample`` list with
    ``pred_instances.masks`` replaced by the refined (N, H, W) bool masks,
    which mmdet's ``CocoMetric``, ``LVISMetric`` and ``DetLocalVisualizer``
    consume unchanged; the detector's masks stay beside them as
    ``pred_instances.coarse_masks`` (the "before" of a before / after picture).

    Args:
        detector (dict): config of any mmdet detector predicting masks.
            Built in the ``mmdet`` scope unless it names another ``_scope_``.
        refiner (dict): config of a ``SegRefiner`` with an
            ``instance_refiner`` and ``test_cfg.mode='instance'``. Built in
            the ``mmseg_refiner`` scope unless it names another ``_scope_``.
        detector_checkpoint (str, optional): the detector's weights (an mmdet
            checkpoint: path or URL).
        refiner_checkpoint (str, optional): the refiner's weights: a
            ``SegRefiner`` checkpoint or the authors' published one (converted
            on load).
        allow_untrained_refiner (bool): run without ``refiner_checkpoint``
            (tests only). Defaults to False.
        backbone (dict, optional): merged into the detector's backbone config.
            ``mmdet.apis.init_detector`` clears ``model.backbone.init_cfg``
            before building; the chain configs set ``backbone=dict(init_cfg=None)``
            (the detector checkpoint holds the backbone).
        data_preprocessor (dict, optional): preprocessor of the raw batch.
            Defaults to ``BaseDataPreprocessor`` (device transfer only).
        init_cfg (dict, optional): MMEngine initialization config of the
            wrapper itself.
    """

    def __init__(self,
                 detector: dict,
                 refiner: dict,
                 detector_checkpoint: Optional[str] = None,
                 refiner_checkpoint: Optional[str] = None,
                 allow_untrained_refiner: bool = False,
                 backbone: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        owner = type(self).__name__
        refuse_pretrained_init(detector, owner, 'detector')
        refuse_pretrained_init(refiner, owner, 'refiner')
        if backbone:
            detector = copy.deepcopy(dict(detector))
            detector['backbone'] = {**detector['backbone'], **backbone}
        self.detector = build_in_scope(detector, 'mmdet')
        self.refiner = build_in_scope(refiner, 'mmseg_refiner')
        mode = self.refiner.test_cfg.get('mode')
        if mode != 'instance':
            raise ValueError(f"RefinedDetector: the refiner's test_cfg.mode must be 'instance' "
                             f'(crop, refine and paste every detected instance), got {mode!r}')
        for name in ('detector', 'refiner'):
            self.freeze(getattr(self, name))
        self.weights = ChainWeights(
            self,
            'detector',
            dict(detector=detector_checkpoint, refiner=refiner_checkpoint),
            allow_untrained_refiner=allow_untrained_refiner)

    def load_weights(self) -> None:
        """Load the parts not loaded yet from their checkpoint settings (see the class doc)."""
        self.weights.load()

    @staticmethod
    def freeze(module: nn.Module) -> None:
        """Eval mode and no gradients for ``module`` (as mmdet's ``SemiBaseDetector``)."""
        module.eval()
        for param in module.parameters():
            param.requires_grad = False

    def train(self, mode: bool = True) -> 'RefinedDetector':
        """Set the wrapper's mode; detector and refiner always stay in eval mode."""
        super().train(mode)
        self.detector.eval()
        self.refiner.eval()
        return self

    def loss(self, inputs, data_samples) -> dict:
        raise NotImplementedError(
            'RefinedDetector only predicts: train the detector with its mmdet config and the '
            'refiner with a SegRefiner training config (configs/segrefiner/), then chain them')

    def predict(self,
                inputs: Union[Tensor, List[Tensor]],
                data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Detect, then refine every predicted mask at the original image size.

        Args:
            inputs (Tensor | list[Tensor]): the raw (3, h, w) uint8 BGR images
                of the test pipeline (resized, unpadded), as a list or stacked.
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
        self.load_weights()
        images = list(inputs)
        detections = self._detect(images, data_samples)
        for index, sample in enumerate(detections):
            if 'masks' not in sample.pred_instances:
                raise ValueError(
                    f'RefinedDetector: {type(self.detector).__name__} predicted no masks for '
                    f'{sample.metainfo.get("img_path", f"sample {index}")}; chain a detector '
                    f'with a mask head (e.g. Mask R-CNN)')
        original_images = self._original_size_images(images, detections)
        return self.refiner.predict(original_images, detections)

    def _detect(self, images: List[Tensor], data_samples: List[DetDataSample]) -> list:
        """The frozen detector's predictions, rescaled to the original image size."""
        data = self.detector.data_preprocessor(
            dict(inputs=images, data_samples=data_samples), False)
        return self.detector.predict(data['inputs'], data['data_samples'], rescale=True)

    def _original_size_images(self, images: Sequence[Tensor],
                              data_samples: Sequence[DetDataSample]) -> List[Tensor]:
        """Normalize the raw images for the refiner and resize them to ``ori_shape``."""
        normalized = self.refiner.data_preprocessor(dict(inputs=list(images)), False)['inputs']
        resized = []
        for image, sample in zip(normalized, data_samples):
            ori_shape = tuple(sample.ori_shape[:2])
            if tuple(image.shape[-2:]) != ori_shape:
                image = F.interpolate(
                    image[None],
                    size=ori_shape,
                    mode='bilinear',
                    align_corners=False,
                    antialias=True)[0]
            resized.append(image)
        return resized

    def _forward(self, inputs: Union[Tensor, List[Tensor]], data_samples=None):
        """The detector's raw head outputs (``mode='tensor'``) for the raw images."""
        self.load_weights()
        data = self.detector.data_preprocessor(
            dict(inputs=list(inputs), data_samples=data_samples), False)
        return self.detector._forward(data['inputs'], data['data_samples'])

    def extract_feat(self, inputs: Tensor):
        """The detector's features of an already normalized, padded batch."""
        return self.detector.extract_feat(inputs)
