"""SegRefiner (NeurIPS 2023) as an MMEngine model: the denoising network and
the discrete mask diffusion, trained and sampled at the model resolution."""
import difflib
import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import nn
from typing import Dict, List, Mapping, Optional, Sequence, Union

from mmseg_refiner.models.denoisers.official_checkpoint import convert_official_keys_on_load
from mmseg_refiner.registry import MODELS
from mmseg_refiner.structures import RefineDataSample, sample_name
from mmseg_refiner.utils.settings import check_int
from ..diffusion.discrete_mask_diffusion import Generators
from ..diffusion.early_stop import check_early_stop
from ..utils.cpu_memory import keep_freed_cpu_memory
from ..utils.precision import check_precision, network_in_precision, resolve_precision
from .guard import check_max_change, limit_change, max_change_of
from .seeding import make_generators, mask_seed, sample_seed, seed_name

ConfigType = Union[dict, nn.Module]
Inputs = Union[torch.Tensor, List[torch.Tensor]]

#: ``'whole'``: the whole input at once, already at the model resolution (as mmseg's
#: ``test_cfg.mode='whole'``); ``'instance'`` and ``'global_local'``: the two refiners.
TEST_MODES = ('whole', 'instance', 'global_local')
#: Keys of ``test_cfg`` (a plain dict: the config check cannot see into it).
TEST_CFG_KEYS = ('mode', 'seed', 'precision', 'max_change', 'early_stop')


def check_test_mode(mode: str,
                    modes: Sequence[str] = TEST_MODES,
                    what: str = 'test_cfg.mode') -> str:
    """Return ``mode`` if it is one of ``modes``."""
    if mode not in modes:
        raise ValueError(f'{what} must be one of {tuple(modes)}, got {mode!r}')
    return mode


@MODELS.register_module()
class SegRefiner(BaseModel):
    """Model-agnostic mask refinement by a discrete diffusion process.

    The network (``denoiser``) only predicts fine-mask logits from an image and
    a mask state; the ``diffusion`` owns the schedule, the forward transition
    used in training and the reverse sampling loop. Higher-level refiners
    (instance crops, high-resolution global + local patches) have no
    parameters: they receive this model and call :meth:`refine`.

    Modes of :meth:`forward`:

    - ``'loss'``: one training step at the model resolution: a step ``t`` per
      sample, the mask state ``m_t`` from the forward transition, the
      network's logits on ``(image, m_t, t)``, BCE and texture losses against
      the ground truth, and ``train_iou`` (logged, not summed: MMEngine sums
      only keys containing ``'loss'``).
    - ``'predict'``: ``test_cfg['mode']`` picks ``'whole'`` (inputs already at
      the model resolution, all reverse steps; writes ``pred_mask``),
      ``'instance'`` or ``'global_local'`` (delegated to ``instance_refiner`` /
      ``global_local_refiner``).
    - ``'tensor'``: the network's logits for the coarse mask at ``t = T-1``.

    Args:
        denoiser (dict): config of the network, ``forward(x, t) -> logits``
            (e.g. ``DenoiseUNet``).
        diffusion (dict): config of the diffusion (``DiscreteMaskDiffusion``).
        loss_mask (dict): config of the per-pixel loss, called as
            ``loss(logits, target)`` (e.g. ``mmdet.CrossEntropyLoss`` with
            ``use_sigmoid=True``).
        loss_texture (dict): config of the texture loss (``TextureLoss``).
        data_preprocessor (dict | nn.Module, optional): the batch
            preprocessor, usually ``RefinerDataPreprocessor``. Defaults to
            MMEngine's ``BaseDataPreprocessor``.
        model_size (int): side of the network's square input. Defaults to 256.
        instance_refiner (dict, optional): config of the object that runs
            ``test_cfg['mode'] == 'instance'`` (``InstanceRefiner``).
        global_local_refiner (dict, optional): config of the object that runs
            ``test_cfg['mode'] == 'global_local'`` (``GlobalLocalRefiner``).
        test_cfg (dict, optional): ``mode`` (``'whole'``, ``'instance'`` or
            ``'global_local'``; default ``'whole'``), ``seed`` (int, default 0;
            None draws from torch's global random state) and ``precision``
            (``'auto'``, ``'fp32'``, ``'bf16'`` or ``'fp16'``; default
            ``'auto'``). Each mask is sampled from its own generator seeded
            from the seed, its sample's name and its index (:mod:`.seeding`),
            so a test run is reproducible and its masks do not depend on batch
            size, order or number of processes. ``precision`` is the dtype the
            network runs in at inference
            (:mod:`mmseg_refiner.models.utils.precision`): ``'auto'`` is bf16
            where the hardware runs it natively (fp16 on a CUDA device without
            bf16), fp32 elsewhere; ``'fp32'`` is the exact float32 network.
            ``max_change`` (default None, off): the do-no-harm guard, e.g.
            ``dict(distance=10, drop_new_components=True)``, applied to every
            refined mask in every mode (:mod:`.guard`). ``early_stop``
            (default None, off): e.g. ``dict(max_changed=0.005)``, a mask stops
            sampling once its prediction no longer changes between steps
            (:mod:`mmseg_refiner.models.diffusion.early_stop`).
        init_cfg (dict, optional): MMEngine initialization config.
    """

    def __init__(self,
                 denoiser: dict,
                 diffusion: dict,
                 loss_mask: dict,
                 loss_texture: dict,
                 data_preprocessor: Optional[ConfigType] = None,
                 model_size: int = 256,
                 instance_refiner: Optional[dict] = None,
                 global_local_refiner: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if isinstance(data_preprocessor, dict):
            # Build in this package's scope, so configs work without a default scope.
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.denoiser = MODELS.build(denoiser)
        self.diffusion = MODELS.build(diffusion)
        self.loss_mask = MODELS.build(loss_mask)
        self.loss_texture = MODELS.build(loss_texture)
        self.model_size = check_int('SegRefiner', 'model_size', model_size, low=8)
        self.instance_refiner = MODELS.build(instance_refiner) if instance_refiner else None
        self.global_local_refiner = MODELS.build(
            global_local_refiner) if global_local_refiner else None
        self.test_cfg = dict(
            mode='whole', seed=0, precision='auto', max_change=None, early_stop=None)
        self.test_cfg.update(self.check_test_cfg(test_cfg or {}))
        self._logged_precision = None
        # The authors' published checkpoint loads wherever ours does (converted on load).
        self._register_load_state_dict_pre_hook(convert_official_keys_on_load)

        net_steps = getattr(self.denoiser, 'num_timesteps', None)
        if net_steps is not None and net_steps != self.num_timesteps:
            raise ValueError(f'SegRefiner: the denoiser embeds {net_steps} timesteps but the '
                             f'diffusion has {self.num_timesteps}')
        self._check_test_mode()
        self._check_refiner_timesteps()

    @property
    def num_timesteps(self) -> int:
        """``T``, the diffusion's number of steps."""
        return self.diffusion.num_timesteps

    @staticmethod
    def check_test_cfg(test_cfg: Mapping) -> Mapping:
        """``test_cfg`` if its keys and values can run, else a ``ValueError`` naming the key.

        Refuses keys nothing reads (a misspelled key would be ignored), a mode
        or precision that does not exist and a mode of an earlier release. Run
        by the constructor and, before anything is built, by the config check
        (:func:`mmseg_refiner.apis.config_keys.validate_config`).
        """
        for key in test_cfg:
            if key not in TEST_CFG_KEYS:
                close = difflib.get_close_matches(key, TEST_CFG_KEYS, n=1)
                hint = f'; did you mean {close[0]!r}?' if close else ''
                raise ValueError(f'SegRefiner: unknown test_cfg key {key!r}{hint} (test_cfg '
                                 f'takes: {", ".join(TEST_CFG_KEYS)})')
        if 'mode' in test_cfg:
            check_test_mode(test_cfg['mode'], what='SegRefiner: test_cfg.mode')
        if 'precision' in test_cfg:
            check_precision(test_cfg['precision'])
        check_max_change(test_cfg.get('max_change'))
        check_early_stop(test_cfg.get('early_stop'))
        return test_cfg

    def _check_test_mode(self) -> str:
        """Return ``test_cfg['mode']`` after checking it can run."""
        mode = check_test_mode(self.test_cfg['mode'], what='SegRefiner: test_cfg.mode')
        if mode != 'whole' and getattr(self, f'{mode}_refiner') is None:
            raise ValueError(f"SegRefiner: test_cfg.mode={mode!r} needs the model's "
                             f'{mode}_refiner config (e.g. the {mode} test config), which is '
                             f'not set')
        return mode

    def _check_refiner_timesteps(self) -> None:
        """Raise now, not mid-job, if a refiner's steps do not fit this diffusion."""
        if self.instance_refiner is not None:
            timesteps = getattr(self.instance_refiner, 'timesteps', None)
            if timesteps is not None:
                self.diffusion.check_timesteps(timesteps, what='instance_refiner.timesteps')
        if self.global_local_refiner is not None and hasattr(self.global_local_refiner,
                                                             'local_timesteps'):
            local = self.global_local_refiner.local_timesteps
            self.diffusion.check_timesteps(local, what='global_local_refiner.local_timesteps')
            self.diffusion.check_timesteps(
                self.global_local_refiner.global_timesteps,
                next_timestep=int(local[0]),
                what='global_local_refiner.global_timesteps (followed by local_timesteps)')

    def inference_precision(self, device: torch.device) -> str:
        """The precision the network runs in on ``device`` (``test_cfg.precision`` resolved).

        Logged once per model (per job), and again only if it changes.
        """
        requested = self.test_cfg['precision']
        precision = resolve_precision(requested, device)
        if self._logged_precision != (requested, precision):
            self._logged_precision = (requested, precision)
            print_log(
                f'SegRefiner: the network runs in {precision} on {torch.device(device)} '
                f'(test_cfg.precision={requested!r})',
                logger='current')
        return precision

    def sample_seeds(self, data_samples: Sequence) -> List[Optional[int]]:
        """Per data sample the seed of its sampling, from ``test_cfg['seed']`` and its name.

        All None when ``test_cfg['seed']`` is None. Higher-level refiners derive
        each mask's seed from these (:func:`.seeding.mask_seed`).
        """
        seed = self.test_cfg.get('seed')
        return [sample_seed(seed, seed_name(sample.metainfo)) for sample in data_samples]

    def forward(self,
                inputs: Inputs,
                data_samples: Optional[List[RefineDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], list, torch.Tensor]:
        """Dispatch to :meth:`loss`, :meth:`predict` or :meth:`_forward`."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f'SegRefiner: invalid mode {mode!r}; use "loss", "predict" or "tensor"')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[RefineDataSample]) -> Dict[str, torch.Tensor]:
        """One training step of the forward process (Alg. 1).

        Args:
            inputs (Tensor): (N, 3, S, S) normalized images, ``S = model_size``.
            data_samples (list[RefineDataSample]): with ``gt_mask`` and
                ``coarse_mask``.

        Returns:
            dict: ``loss_mask``, ``loss_texture`` and the detached
            ``train_iou`` (IoU of ``logits >= 0`` with the ground truth, mean
            over the batch).
        """
        self._check_model_size(inputs, data_samples, 'loss')
        gt = self._stack_masks(data_samples, 'gt_mask', inputs)
        coarse = self._stack_masks(data_samples, 'coarse_mask', inputs)
        t = torch.randint(0, self.num_timesteps, (inputs.shape[0], ), device=inputs.device)
        mask_t = self.diffusion.q_sample(gt, coarse, t)
        # float32 losses whatever the network's dtype (bf16/fp16 autocast in --amp training)
        logits = self.denoiser(torch.cat([inputs, mask_t], dim=1), t).float()
        return dict(
            loss_mask=self.loss_mask(logits, gt),
            loss_texture=self.loss_texture(logits, gt),
            train_iou=mask_iou(logits.detach() >= 0, gt >= 0.5).mean())

    @torch.no_grad()
    def refine(self,
               images: torch.Tensor,
               coarse: torch.Tensor,
               timesteps: Optional[Sequence[int]] = None,
               cum_fine: Optional[torch.Tensor] = None,
               generator: Generators = None,
               next_timestep: int = -1) -> Dict[str, torch.Tensor]:
        """Run the reverse process on a batch: the entry point of every refiner.

        This is where every inference path calls the network, so the
        precision policy (``test_cfg.precision``) is applied here and nowhere
        else (:func:`~mmseg_refiner.models.utils.precision.network_in_precision`:
        the network on bf16 weights for ``'bf16'``, under autocast for
        ``'fp16'``, everything around it in float32), and on the CPU freed
        memory is kept for the next layer
        (:func:`~mmseg_refiner.models.utils.cpu_memory.keep_freed_cpu_memory`).

        Args:
            images (Tensor): (N, 3, S, S) normalized images.
            coarse (Tensor): (N, 1, S, S) {0, 1} masks to refine.
            timesteps (Sequence[int], optional): steps to run, strictly
                decreasing. Defaults to all, ``T-1..0``.
            cum_fine (Tensor, optional): (N, 1, S, S) initial cumulative fine
                probability. Defaults to zeros.
            generator (torch.Generator | Sequence[torch.Generator], optional):
                source of every draw: one for the batch, or one per row.
            next_timestep (int): the step that follows the last of
                ``timesteps`` (a later run continues there); -1, the default,
                ends the process. See ``DiscreteMaskDiffusion.sample``.

        Returns:
            dict: ``prob`` (N, 1, S, S) refined foreground probability,
            ``cum_fine`` (N, 1, S, S) cumulative fine probability and
            ``steps`` (N,) the steps each row ran (fewer than ``timesteps``
            under ``test_cfg.early_stop``).
        """
        precision = self.inference_precision(images.device)
        if images.device.type == 'cpu':
            keep_freed_cpu_memory()
        return self.diffusion.sample(
            network_in_precision(self.denoiser, precision, images.device),
            images,
            coarse,
            timesteps=timesteps,
            cum_fine=cum_fine,
            generator=generator,
            next_timestep=next_timestep,
            early_stop=check_early_stop(self.test_cfg.get('early_stop')))

    def predict(self, inputs: Inputs,
                data_samples: List[RefineDataSample]) -> List[RefineDataSample]:
        """Refine the batch's coarse masks as ``test_cfg['mode']`` says.

        In ``'whole'`` mode each data sample gets ``pred_mask`` =
        ``PixelData(data=prob >= 0.5 (1xSxS bool), prob=(1xSxS float),
        cum_fine=(1xSxS float))``. The other modes return what the delegate's
        ``predict(self, inputs, data_samples)`` returns.
        """
        mode = self._check_test_mode()
        if mode == 'instance':
            return self.instance_refiner.predict(self, inputs, data_samples)
        if mode == 'global_local':
            return self.global_local_refiner.predict(self, inputs, data_samples)
        self._check_model_size(inputs, data_samples, "test_cfg.mode='whole'")
        coarse = self._stack_masks(data_samples, 'coarse_mask', inputs)
        generators = make_generators(
            [mask_seed(seed, 0) for seed in self.sample_seeds(data_samples)], inputs.device)
        out = self.refine(inputs, coarse, generator=generators)
        max_change = max_change_of(self)
        for data_sample, prob, cum_fine, row_coarse in zip(data_samples, out['prob'],
                                                           out['cum_fine'], coarse):
            prob = limit_change(row_coarse[0] > 0, prob[0], 0.5, max_change)[None]
            data_sample.pred_mask = PixelData(data=prob >= 0.5, prob=prob, cum_fine=cum_fine)
        return data_samples

    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: Optional[List[RefineDataSample]] = None) -> torch.Tensor:
        """(N, 1, S, S) logits of the network for the coarse masks at ``t = T-1``."""
        if data_samples is None:
            raise ValueError("SegRefiner: mode='tensor' needs data_samples with coarse_mask")
        self._check_model_size(inputs, data_samples, "mode='tensor'")
        coarse = self._stack_masks(data_samples, 'coarse_mask', inputs)
        t = torch.full((inputs.shape[0], ),
                       self.num_timesteps - 1,
                       dtype=torch.long,
                       device=inputs.device)
        return self.denoiser(torch.cat([inputs, coarse], dim=1), t)

    def _check_model_size(self, inputs: Inputs, data_samples: Optional[list], what: str) -> None:
        """Raise unless ``inputs`` is an (N, 3, S, S) tensor with S = model_size."""
        size = (self.model_size, self.model_size)
        if isinstance(inputs, torch.Tensor) and inputs.dim() == 4 and inputs.shape[2:] == size:
            return
        if isinstance(inputs, torch.Tensor):
            shapes = [tuple(inputs.shape[1:])] * inputs.shape[0]
        else:
            shapes = [tuple(img.shape) for img in inputs]
        bad = next(i for i, shape in enumerate(shapes) if shape[1:] != size)
        raise ValueError(f'SegRefiner {what}: expects images resized to model_size={size}, '
                         f'but {sample_name(data_samples, bad)} has shape {shapes[bad]}; '
                         f'resize in the pipeline or use the instance or global_local test mode')

    @staticmethod
    def _stack_masks(data_samples: List[RefineDataSample], key: str,
                     images: torch.Tensor) -> torch.Tensor:
        """Stack ``data_sample.<key>.data`` into an (N, 1, H, W) float tensor."""
        masks = []
        for i, data_sample in enumerate(data_samples):
            if not hasattr(data_sample, key):
                raise ValueError(f'SegRefiner: {sample_name(data_samples, i)} has no {key}')
            mask = getattr(data_sample, key).data
            if mask.shape != (1, *images.shape[2:]):
                raise ValueError(f'SegRefiner: {key} of {sample_name(data_samples, i)} has '
                                 f'shape {tuple(mask.shape)}, expected '
                                 f'{(1, *images.shape[2:])} to match its image')
            masks.append(mask)
        return torch.stack(masks).to(device=images.device, dtype=images.dtype)


def mask_iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample IoU of (N, 1, H, W) boolean masks; 1 where both are empty."""
    inter = (pred & target).flatten(1).sum(1).float()
    union = (pred | target).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
