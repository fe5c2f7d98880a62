"""What the two chains share: an upstream mmdet / mmseg model, then a refiner, both frozen.

:class:`BaseRefinementChain` builds the two parts, freezes them, loads their
weights when first needed (:class:`.chain_weights.ChainWeights`), owns the
preprocessing and gives the refiner the original image at its original size.
:class:`~.RefinedDetector` and :class:`~.RefinedSegmentor` add only how the
upstream prediction is read and refined.
"""
import copy
import logging
import torch.nn.functional as F
from abc import abstractmethod
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor, nn
from typing import List, Optional, Sequence, Union

from mmseg_refiner.registry import MODELS
from ..data_preprocessors import RawBatchPreprocessor
from .chain_weights import ChainWeights

ModelConfig = Union[dict, nn.Module]


def build_or_keep(config: ModelConfig, scope: str) -> nn.Module:
    """A model as given, or built from its config in ``scope`` unless it names its ``_scope_``."""
    if isinstance(config, nn.Module):
        return config
    config = copy.deepcopy(dict(config))
    config.setdefault('_scope_', scope)
    return MODELS.build(config)


def refuse_pretrained_init(cfg: ModelConfig, owner: str, name: str) -> None:
    """A part's ``init_cfg=dict(type='Pretrained')`` would be silently ignored: refuse it."""
    init_cfg = cfg.get('init_cfg') if isinstance(cfg, dict) else None
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        raise ValueError(f'{owner}: model.{name}.init_cfg names a checkpoint; set '
                         f'model.{name}_checkpoint={init_cfg.get("checkpoint")!r} instead '
                         f'(read when the weights are loaded)')


class BaseRefinementChain(BaseModel):
    """An upstream mmdet / mmseg model whose masks a SegRefiner refines (prediction only).

    **Preprocessing belongs to the chain, not to the config's top level.** The
    chain's own ``data_preprocessor`` is always :class:`RawBatchPreprocessor`:
    it only moves the collated raw batch (uint8 BGR images as the test
    pipeline packs them) to the device. Each part then
    preprocesses that raw batch exactly once with its own config's
    preprocessor: the upstream model with ``model.<upstream>.data_preprocessor``
    (as in its mmdet / mmseg config), the refiner with
    ``model.refiner.data_preprocessor``. So the upstream model sees exactly
    what it sees when it runs alone, on every route (MMEngine's Runner,
    ``tools/test.py``, mmdet's / mmseg's ``tools/test.py``, ``init_detector``,
    ``init_model``, the Inferencers).

    MMEngine's Runner hands every model the config's top-level
    ``data_preprocessor`` (mmseg configs and some mmdet ones, e.g.
    Mask2Former's, define one: the upstream model's). A chain takes it as
    ``data_preprocessor`` and does not use it: normalizing there would
    normalize the upstream input twice. It is logged when it differs from the
    upstream model's own. An upstream config without a ``data_preprocessor``
    is refused (the chain does not guess one).

    **The original image.** The refiner works on the image at its original
    size (``ori_shape``), where the upstream prediction is rescaled to. The
    chain never reads files: the batch image (the test pipeline's, cut to its
    resized extent ``ori_shape`` x ``scale_factor`` if a ``Pad`` transform padded it) is
    normalized by the refiner's preprocessor and resized back to
    ``ori_shape`` (bilinear, anti-aliased when shrinking). A pipeline that
    keeps the original size gives the original image exactly; one that
    enlarged it (mmdet's 1333x800) loses almost nothing; one that shrank it
    gives the image blurred by that factor. The test pipeline must not flip or
    crop (a flipped sample is refused).

    **Weights and freezing.** Both parts are frozen (eval mode, no
    gradients; :meth:`train` keeps them in eval mode). ``<upstream>_checkpoint``
    and ``refiner_checkpoint`` are read when first needed (the first
    prediction, or :meth:`load_weights`); a checkpoint loaded into the whole
    chain replaces the settings of the parts it holds (see
    :class:`.chain_weights.ChainWeights`).

    Subclasses set :attr:`upstream_name` (the attribute and setting prefix:
    ``'detector'`` / ``'segmentor'``), :attr:`upstream_scope` and
    :attr:`refiner_mode` (the refiner's required ``test_cfg.mode``), and
    implement :meth:`predict`.

    Args:
        upstream (dict | nn.Module): the upstream model's config (built in
            :attr:`upstream_scope` unless it names its own ``_scope_``) or model.
        refiner (dict | nn.Module): the ``SegRefiner`` config (built in the
            ``mmseg_refiner`` scope unless it names its own) or model.
        upstream_checkpoint (str, optional): the upstream model's weights.
        refiner_checkpoint (str, optional): the refiner's weights (ours or the
            authors' published file).
        allow_untrained_refiner (bool): run without refiner weights (tests only).
        data_preprocessor (dict | nn.Module, optional): what the Runner hands
            the model (see above); not used.
        init_cfg (dict, optional): MMEngine initialization config of the chain.
    """

    upstream_name: str = ''
    upstream_scope: str = ''
    refiner_mode: str = ''

    def __init__(self,
                 upstream: ModelConfig,
                 refiner: ModelConfig,
                 upstream_checkpoint: Optional[str] = None,
                 refiner_checkpoint: Optional[str] = None,
                 allow_untrained_refiner: bool = False,
                 data_preprocessor: Optional[ModelConfig] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=RawBatchPreprocessor(), init_cfg=init_cfg)
        owner, name = type(self).__name__, self.upstream_name
        refuse_pretrained_init(upstream, owner, name)
        refuse_pretrained_init(refiner, owner, 'refiner')
        if isinstance(upstream, dict) and upstream.get('data_preprocessor') is None:
            raise ValueError(f'{owner}: model.{name} has no data_preprocessor; give it the one '
                             f'of its {self.upstream_scope} config (the chain\'s own only moves '
                             f'the raw batch to the device)')
        self._note_unused_preprocessor(data_preprocessor, upstream)
        self.add_module(name, build_or_keep(upstream, self.upstream_scope))
        self.refiner = build_or_keep(refiner, 'mmseg_refiner')
        mode = getattr(self.refiner, 'test_cfg', {}).get('mode')
        if mode != self.refiner_mode:
            raise ValueError(f"{owner}: the refiner's test_cfg.mode must be "
                             f'{self.refiner_mode!r}, got {mode!r}')
        for part in (self.upstream, self.refiner):
            part.eval()
            part.requires_grad_(False)
        self.weights = ChainWeights(
            self,
            name, {
                name: upstream_checkpoint,
                'refiner': refiner_checkpoint
            },
            allow_untrained_refiner=allow_untrained_refiner)

    @property
    def upstream(self) -> nn.Module:
        """The upstream mmdet / mmseg model."""
        return getattr(self, self.upstream_name)

    def _note_unused_preprocessor(self, given: Optional[ModelConfig],
                                  upstream: ModelConfig) -> None:
        """Log a ``data_preprocessor`` handed to the chain that is not the upstream's own."""
        if given is None or isinstance(given, nn.Module):
            return
        own = upstream.get('data_preprocessor') if isinstance(upstream, dict) else None

        def settings(cfg) -> dict:  # the scope a config was built in is not a setting
            return {k: v for k, v in dict(cfg or {}).items() if k != '_scope_'}

        if settings(given) == settings(own) or given.get(
                'type', '').split('.')[-1] in ('BaseDataPreprocessor', 'RawBatchPreprocessor'):
            return
        print_log(
            f'{type(self).__name__}: model.data_preprocessor ({given.get("type")}, e.g. the '
            f"config's top-level data_preprocessor the Runner hands the model) is not used: "
            f'the {self.upstream_name} preprocesses with model.{self.upstream_name}.'
            f'data_preprocessor, the refiner with model.refiner.data_preprocessor',
            logger='current',
            level=logging.WARNING)

    def load_weights(self) -> None:
        """Load the parts not loaded yet from their checkpoint settings (once)."""
        self.weights.load()

    def train(self, mode: bool = True) -> 'BaseRefinementChain':
        """Set the chain's mode; both parts always stay in eval mode."""
        super().train(mode)
        self.upstream.eval()
        self.refiner.eval()
        return self

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """Only ``mode='predict'``: a chain is for inference. ``'tensor'`` (MMEngine's default,
        what mmdet's ``get_flops.py`` traces) and ``'loss'`` are refused with what to run
        instead."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            raise ValueError(
                f"{type(self).__name__} has no mode='tensor' (its refiner's work depends on the "
                f"{self.upstream_name}'s prediction): measure the chain with mmseg_refiner's "
                f'tools/analysis_tools/get_flops.py CONFIG')
        raise ValueError(
            f"{type(self).__name__} only predicts (mode='predict'), got mode={mode!r}: train the "
            f'{self.upstream_name} with its {self.upstream_scope} config and the refiner with a '
            f'SegRefiner training config (configs/segrefiner/), then chain them')

    def loss(self, inputs, data_samples) -> dict:
        """Refused: a chain only predicts."""
        return self.forward(inputs, data_samples, mode='loss')

    @abstractmethod
    def predict(self, inputs: Union[Tensor, List[Tensor]], data_samples: list) -> list:
        """The upstream predictions of the batch, with the refined masks."""

    def _upstream_predict(self, inputs: Union[Tensor, List[Tensor]], data_samples: list,
                          **kwargs) -> list:
        """The upstream model's predictions of the raw batch, preprocessed by its own
        preprocessor exactly as when it runs alone (``test_step``)."""
        for index, sample in enumerate(data_samples):
            if sample.metainfo.get('flip', False):
                name = sample.metainfo.get('img_path', f'sample {index}')
                raise ValueError(f'{type(self).__name__}: {name} was flipped by the test '
                                 f'pipeline; the refiner needs the original image (remove '
                                 f'RandomFlip / test-time augmentation from the test pipeline)')
        self.load_weights()
        data = self.upstream.data_preprocessor(
            dict(inputs=list(inputs), data_samples=data_samples), False)
        return self.upstream.predict(data['inputs'], data['data_samples'], **kwargs)

    @staticmethod
    def _resized_extent(image: Tensor, meta: dict) -> tuple:
        """(h, w) of the image the test pipeline resized, before any ``Pad`` (which sets
        ``img_shape`` to the padded size): ``ori_shape`` x ``scale_factor``."""
        height, width = image.shape[-2:]
        if meta.get('scale_factor') is None:
            return height, width
        ori_h, ori_w = meta['ori_shape'][:2]
        w_scale, h_scale = meta['scale_factor'][:2]
        return min(height, round(ori_h * h_scale)), min(width, round(ori_w * w_scale))

    def _original_images(self, inputs: Union[Tensor, Sequence[Tensor]],
                         data_samples: Sequence) -> List[Tensor]:
        """The raw batch images normalized for the refiner, at ``ori_shape`` (class doc)."""
        images = []
        for image, sample in zip(inputs, data_samples):
            meta = sample.metainfo
            image = image[(slice(None), *map(slice, self._resized_extent(image, meta)))]
            [image] = self.refiner.data_preprocessor(dict(inputs=[image]), False)['inputs']
            ori_shape = tuple(meta['ori_shape'][:2])
            if tuple(image.shape[-2:]) != ori_shape:
                image = F.interpolate(
                    image[None],
                    size=ori_shape,
                    mode='bilinear',
                    align_corners=False,
                    antialias=True)[0]
            images.append(image)
        return images
