"""Any MMSegmentation segmentor followed by SegRefiner in global-local mode."""
from typing import List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import Tensor, nn

from mmseg_refiner.fileio import read_image
from mmseg_refiner.registry import MODELS
from ..refiners.seeding import mask_seed
from .upstream import ChainWeights, build_or_keep, refuse_pretrained_init

ModelConfig = Union[dict, nn.Module]


@MODELS.register_module()
class RefinedSegmentor(BaseModel):
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

    The refiner needs the original image at its original size, while the
    segmentor's pipeline may have resized it. When the batch input already has
    the original size (no resize, no flip; e.g. Cityscapes' 2048x1024 test
    pipeline) it is used directly; otherwise the image is read again from the
    data sample's ``img_path``.

    Both models are frozen (eval mode, no gradients); this wrapper only
    predicts. Weights: ``segmentor_checkpoint`` and ``refiner_checkpoint``
    (paths or URLs) are read when first needed (the first prediction, or
    :meth:`load_weights`), not when the model is built; a checkpoint loaded
    into the whole wrapper (``tools/test.py CONFIG CHECKPOINT``, ``load_from``,
    ``init_model(config, CHECKPOINT)``) replaces the settings of the parts it
    holds (see :class:`~mmseg_refiner.models.wrappers.upstream.ChainWeights`).
    A refiner left without weights is an error unless
    ``allow_untrained_refiner=True``.

    Args:
        segmentor (dict | nn.Module): an mmseg segmentor config (built in the
            ``mmseg`` scope unless it names its own ``_scope_``) or model. Its
            own ``data_preprocessor`` prepares its input.
        refiner (dict | nn.Module): the ``SegRefiner`` config (built in the
            ``mmseg_refiner`` scope unless it names its own) or model; it
            must have a ``global_local_refiner``, and its ``data_preprocessor``
            (``RefinerDataPreprocessor``) normalizes the original image.
        segmentor_checkpoint (str, optional): the segmentor's weights (an
            mmseg checkpoint: path or URL).
        refiner_checkpoint (str, optional): the refiner's weights: a
            ``SegRefiner`` checkpoint or the authors' published one (converted
            on load).
        allow_untrained_refiner (bool): run without ``refiner_checkpoint``
            (tests only). Defaults to False.
        pretrained, train_cfg: only None. ``mmseg.apis.init_model`` sets both
            to None on the model config before building; this wrapper never
            trains and its parts load from the checkpoint settings.
        data_preprocessor (dict | nn.Module, optional): of the wrapper; the
            default only moves the raw batch to the device, since each model
            preprocesses for itself.
        init_cfg (dict, optional): MMEngine initialization config.
    """

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
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        owner = type(self).__name__
        for name, value in (('pretrained', pretrained), ('train_cfg', train_cfg)):
            if value is not None:
                raise ValueError(f'{owner}: model.{name} must be None (this wrapper only '
                                 f'predicts; set model.segmentor_checkpoint for weights)')
        refuse_pretrained_init(segmentor, owner, 'segmentor')
        refuse_pretrained_init(refiner, owner, 'refiner')
        self.segmentor = build_or_keep(segmentor, 'mmseg')
        self.refiner = build_or_keep(refiner, 'mmseg_refiner')
        if getattr(self.refiner, 'global_local_refiner', None) is None:
            raise ValueError('RefinedSegmentor: the refiner has no global_local_refiner; add '
                             "global_local_refiner=dict(type='GlobalLocalRefiner') to its config")
        for module in (self.segmentor, self.refiner):
            module.eval()
            module.requires_grad_(False)
        self.weights = ChainWeights(
            self,
            'segmentor',
            dict(segmentor=segmentor_checkpoint, refiner=refiner_checkpoint),
            allow_untrained_refiner=allow_untrained_refiner)

    def load_weights(self) -> None:
        """Load the parts not loaded yet from their checkpoint settings."""
        self.weights.load()

    def train(self, mode: bool = True) -> 'RefinedSegmentor':
        """Keep both models in eval mode whatever the wrapper's mode."""
        super().train(mode)
        self.segmentor.eval()
        self.refiner.eval()
        return self

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        """Only ``mode='predict'`` is supported: this wrapper is for inference."""
        if mode != 'predict':
            raise ValueError(f"RefinedSegmentor only predicts (mode='predict'), got mode={mode!r}; "
                             'train the segmentor with mmseg and the refiner with '
                             'mmseg_refiner configs')
        return self.predict(inputs, data_samples)

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
        self.load_weights()
        batch = self.segmentor.data_preprocessor(
            dict(inputs=inputs, data_samples=data_samples), False)
        results = self.segmentor.predict(batch['inputs'], batch['data_samples'])
        for raw, sample in zip(inputs, results):
            image = self._original_image(raw, sample)
            labels = sample.pred_sem_seg.data[0]
            sample.coarse_sem_seg = PixelData(data=labels[None].clone())
            [seed] = self.refiner.sample_seeds([sample])
            refined, prob = self.refine_labels(image, labels, seed, return_probs=True)
            sample.pred_sem_seg = PixelData(data=refined[None])
            sample.refine_probs = PixelData(data=prob[None])
        return results

    def refine_labels(self,
                      image: Tensor,
                      labels: Tensor,
                      seed: Optional[int] = None,
                      return_probs: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        """Refine a label map class by class.

        Args:
            image: ``(3, H, W)`` image normalized for the refiner.
            labels: ``(H, W)`` integer label map of the segmentor.
            seed: the sample's seed; class ``c`` is sampled with
                ``mask_seed(seed, c)``. None: torch's global random state.
            return_probs: also return the ``(H, W)`` float32 highest refined
                probability of each pixel (over the classes).

        Returns:
            ``(H, W)`` refined label map (same dtype): each pixel takes the
            class with the highest refined probability if that probability
            reaches the refiner's threshold, its original label otherwise;
            with ``return_probs``, ``(labels, probs)``.
        """
        global_local_refiner = self.refiner.global_local_refiner
        labels = labels.to(image.device)
        best_prob = torch.zeros(labels.shape, dtype=torch.float32, device=image.device)
        best_label = labels.clone()
        for label in labels.unique().tolist():
            _, prob = global_local_refiner.refine_mask(self.refiner, image, labels == label,
                                                   mask_seed(seed, label))
            better = prob > best_prob
            best_prob = torch.where(better, prob, best_prob)
            best_label[better] = label
        refined = torch.where(best_prob >= global_local_refiner.threshold, best_label, labels)
        return (refined, best_prob) if return_probs else refined

    def _original_image(self, raw: Tensor, sample) -> Tensor:
        """The sample's image at its original size, normalized for the refiner."""
        ori_shape = tuple(sample.metainfo['ori_shape'][:2])
        if tuple(raw.shape[-2:]) == ori_shape and not sample.metainfo.get('flip', False):
            image = raw
        else:
            path = sample.metainfo.get('img_path')
            if path is None:
                raise ValueError(
                    'RefinedSegmentor: the pipeline resized or flipped the image '
                    f'({tuple(raw.shape[-2:])} vs original {ori_shape}) and the data sample has '
                    'no img_path to read the original from; keep the original size in the test '
                    'pipeline or give image files')
            array = read_image(path)
            if array.shape[:2] != ori_shape:
                raise ValueError(f'RefinedSegmentor: image {path} is {array.shape[:2]} but its '
                                 f'data sample says ori_shape={ori_shape}')
            image = torch.from_numpy(array).permute(2, 0, 1)
        return self.refiner.data_preprocessor.normalize(image.to(raw.device))
