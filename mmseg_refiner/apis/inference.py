"""Refine any image and mask(s) from Python: :func:`init_refiner` and :func:`refine`.

    >>> from mmseg_refiner.apis import init_refiner, refine
    >>> model = init_refiner()                      # the shipped demo model
    >>> refined = refine(model, 'demo/image.png', 'demo/coarse_mask.png')
    >>> refined.shape, refined.dtype                # HxW bool, like the one mask given
"""
import copy
import numpy as np
import os
import os.path as osp
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from typing import Optional, Tuple, Union

from mmseg_refiner.models.refiners.seeding import mask_seed, sample_seed
from mmseg_refiner.models.refiners.segrefiner import check_test_mode
from mmseg_refiner.models.utils import check_precision
from mmseg_refiner.registry import MODELS
from mmseg_refiner.utils import load_weights
from mmseg_refiner.utils.checks import check_device, check_seed
from mmseg_refiner.utils.config_file import read_config_file
from .config_keys import validate_config
from .inputs import ImageInput, MasksInput, to_bgr_image, to_bool_masks

#: The repository root: the package is installed in editable mode, so the demo
#: files sit next to it (``<repo>/demo`` and ``<repo>/configs``).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'segrefiner',
                       'segrefiner_unet-tiny_1xb8-3k_synthetic-64.py')
DEMO_CHECKPOINT = osp.join(REPO_ROOT, 'demo', 'segrefiner_demo.pth')

#: ``mode='auto'`` refines an image as 'global_local' (high-resolution global +
#: local refinement) when its longer side exceeds this many times the model's
#: input size, and as 'instance' (crop, resize to the model size, paste back)
#: otherwise. With the published 256-px models the threshold is 1024 px: the
#: paper's LR settings (COCO, ~640 px) fall below it and its HR settings (BIG
#: and DIS5K, 2K-6K px) above it. Below it, an object crop resized to the model
#: size loses little detail; above it, it would lose a factor > 4 in
#: resolution, which is what the local full-resolution patches recover.
AUTO_GLOBAL_LOCAL_FACTOR = 4

MODES = ('auto', 'instance', 'global_local')


def demo_model_files() -> Tuple[str, str]:
    """The shipped demo model's ``(config, checkpoint)`` paths.

    They are found relative to the repository this package is installed from
    (editable install): ``configs/segrefiner/segrefiner_unet-tiny_1xb8-3k_synthetic-64.py``
    and ``demo/segrefiner_demo.pth``.

    Raises:
        FileNotFoundError: either file is missing (e.g. a non-editable install,
            or a checkout without the demo checkpoint).
    """
    missing = [path for path in (DEMO_CONFIG, DEMO_CHECKPOINT) if not osp.isfile(path)]
    if missing:
        raise FileNotFoundError(
            f'the demo model is missing: {", ".join(missing)} not found. The demo files live in '
            f'the repository (mmseg_refiner must be installed from it in editable mode: '
            f'pip install -e .); demo/README.md says how to re-train the checkpoint. Or pass '
            f'a config and a checkpoint to init_refiner.')
    return DEMO_CONFIG, DEMO_CHECKPOINT


def _fill_default_refiners(model_cfg: Config) -> None:
    """Give the model an instance refiner and a global-local refiner if its config has none."""
    if model_cfg.get('instance_refiner') is None:
        model_cfg['instance_refiner'] = dict(type='InstanceRefiner')
    if model_cfg.get('global_local_refiner') is None:
        model_cfg['global_local_refiner'] = dict(type='GlobalLocalRefiner')


def default_device() -> str:
    """``'cuda'`` when a CUDA device is available, else ``'cpu'``."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def init_refiner(config: Union[str, os.PathLike, Config, None] = None,
                 checkpoint: Optional[str] = None,
                 device: Union[str, torch.device, None] = None,
                 cfg_options: Optional[dict] = None,
                 precision: Optional[str] = None) -> torch.nn.Module:
    """Build a :class:`SegRefiner` ready for :func:`refine`.

    Args:
        config: a config file or :class:`Config` whose ``model`` is a
            ``SegRefiner``. ``None`` loads the shipped demo model (a small model
            trained on synthetic data; see ``demo/README.md``).
        checkpoint: weights to load (any MMEngine checkpoint, or a bare state
            dict) with :func:`mmseg_refiner.utils.load_weights`: under
            ``torch.load(weights_only=True)``, strict (every key and size must
            match), finite; ``None`` keeps the initial weights. Must be
            ``None`` when ``config`` is.
        device: where the model runs, e.g. ``'cpu'`` or ``'cuda:0'``; the
            checkpoint is mapped there. ``None`` (the default): CUDA when it
            is available, else the CPU.
        cfg_options: overrides merged into the config, as with
            ``--cfg-options`` (e.g. ``{'model.global_local_refiner.batch_size': 8}``).
        precision: the network's precision at inference, ``'auto'``,
            ``'fp32'``, ``'bf16'`` or ``'fp16'`` (sets
            ``model.test_cfg.precision``). ``None`` (the default) keeps the
            config's, ``'auto'`` unless it says otherwise: bf16 where the
            hardware runs it natively, fp32 elsewhere. ``'fp32'`` gives the
            exact float32 results.

    Returns:
        The model in eval mode with ``instance_refiner`` and ``global_local_refiner``
        set (the ones the config names, else the defaults) and the config as
        ``model.cfg``.

    Raises:
        FileNotFoundError: the demo files or the checkpoint are missing.
        ConfigKeyError: a key of the config or of ``cfg_options`` that nothing
            reads (:func:`mmseg_refiner.apis.config_keys.validate_config`).
        UsageError: a device this machine does not have.
        CheckpointError: the checkpoint is empty, not a checkpoint, truncated,
            holds NaN / Inf or does not fit the model (naming the file and keys).
        UnsafeCheckpointError: the checkpoint holds pickled objects outside
            the allow-list of :mod:`mmseg_refiner.utils.safe_checkpoint`.
    """
    if config is None:
        if checkpoint is not None:
            raise ValueError('a checkpoint was given without its config; pass both, or '
                             'neither for the demo model')
        config, checkpoint = demo_model_files()
    if isinstance(config, (str, os.PathLike)):
        config = read_config_file(os.fspath(config))
    elif isinstance(config, Config):
        config = copy.deepcopy(config)  # cfg_options must not change the caller's config
    else:
        raise TypeError(f'config must be a file path or a Config, got {type(config).__name__}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise ValueError(f'the config {config.filename} has no `model`')
    if precision is not None:
        config.merge_from_dict({'model.test_cfg.precision': check_precision(precision)})
    validate_config(config, cfg_options)
    device = default_device() if device is None else check_device(device, 'device')

    init_default_scope(config.get('default_scope', 'mmseg_refiner'))
    model_cfg = config.model.copy()
    _fill_default_refiners(model_cfg)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_weights(model, checkpoint, map_location=device)
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def resolve_mode(mode: str, image_shape: Tuple[int, int], model_size: int) -> str:
    """The refinement mode :func:`refine` uses (see :data:`AUTO_GLOBAL_LOCAL_FACTOR`)."""
    check_test_mode(mode, MODES, what='mode')
    if mode != 'auto':
        return mode
    return 'global_local' if max(
        image_shape) > AUTO_GLOBAL_LOCAL_FACTOR * model_size else 'instance'


def _normalized_image(model: torch.nn.Module, image: np.ndarray) -> torch.Tensor:
    """The image as the network takes it: ``(3, H, W)`` float RGB, normalized, on its device."""
    inputs = torch.from_numpy(image).permute(2, 0, 1).contiguous()
    data = model.data_preprocessor(dict(inputs=[inputs]), training=False)
    return data['inputs'][0]


def refine(model: torch.nn.Module,
           image: ImageInput,
           masks: MasksInput,
           mode: str = 'auto',
           return_probs: bool = False,
           seed: Optional[int] = 0,
           name: Optional[str] = None) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
    """Refine one mask or several masks of one image.

    Args:
        model: a model from :func:`init_refiner`.
        image: a file path, or an ``HxWx3 uint8`` **BGR** array (as
            ``mmcv.imread`` / ``cv2.imread`` return it). Grey (``HxW``,
            ``HxWx1``) is repeated to 3 channels; BGRA loses its alpha channel.
        masks: one mask (a path, or an ``HxW`` / ``HxWx1`` array) or several
            (a list of those, or an ``NxHxW`` array), read under the package's
            one mask rule (:mod:`mmseg_refiner.fileio.masks`: 0/1 and 0/255
            alike, palette PNGs by index, float probabilities ``>= 0.5``).
            Every mask must have the image's size.
        mode: ``'instance'`` refines each mask by cropping its box (plus a
            margin), refining at the model's resolution and pasting back (how
            the paper evaluates the LR model); ``'global_local'`` runs the global
            pass and local full-resolution patches for each mask (how it
            evaluates the HR model); ``'auto'`` picks ``'global_local'`` when the image's longer
            side exceeds :data:`AUTO_GLOBAL_LOCAL_FACTOR` x the model size, else
            ``'instance'``.
        return_probs: also return the refined foreground probabilities (for
            instances under ``min_area``, the unchanged coarse mask as 0/1).
        seed: the run's seed (default 0: deterministic). Mask ``k`` is
            sampled from its own generator seeded from ``seed``, ``name`` and
            ``k`` (:mod:`mmseg_refiner.models.refiners.seeding`), as
            ``tools/test.py`` seeds a sample of the same name, so both give the
            same mask. ``None`` draws from torch's global random state.
        name: the sample's name for seeding; defaults to the image file's
            name when ``image`` is a path, else ``''``.

    Returns:
        The refined masks as bool arrays of the image's size: ``HxW`` when one
        mask was given, ``NxHxW`` when several were (a list or a stack, in the
        same order). With ``return_probs``, ``(masks, probs)`` where ``probs``
        are float32 arrays of the same shape.

    Raises:
        ValueError: unreadable image or mask file, unsupported image array,
            a mask whose size differs from the image's or holding NaN, an empty
            list of masks, an unknown mode, or a seed outside 0..2**32-1; the
            message names the file or the mask's index.
    """
    if not (isinstance(model, torch.nn.Module) and hasattr(model, 'instance_refiner')
            and hasattr(model, 'global_local_refiner')):
        raise TypeError(f'refine() needs the model init_refiner() returns, got '
                        f'{type(model).__name__}: model = init_refiner(config, checkpoint)')
    seed = check_seed(seed, 'seed')
    img = to_bgr_image(image)
    bool_masks, single = to_bool_masks(masks, img.shape[:2])
    mode = resolve_mode(mode, img.shape[:2], model.model_size)
    normalized = _normalized_image(model, img)
    if name is None:
        name = osp.basename(os.fspath(image)) if isinstance(image, (str, os.PathLike)) else ''
    image_seed = sample_seed(seed, name)
    masks_tensor = torch.from_numpy(bool_masks).to(normalized.device)
    with torch.no_grad():
        if mode == 'instance':
            refined, probs = model.instance_refiner.refine_masks(
                model, [normalized], [masks_tensor], seeds=[image_seed], return_probs=True)
            refined, probs = refined[0].cpu().numpy(), probs[0].float().cpu().numpy()
        else:
            outputs = [
                model.global_local_refiner.refine_mask(
                    model, normalized, mask, seed=mask_seed(image_seed, index))
                for index, mask in enumerate(masks_tensor)
            ]
            refined = torch.stack([out[0] for out in outputs]).cpu().numpy()
            probs = torch.stack([out[1] for out in outputs]).float().cpu().numpy()
    if single:
        refined = refined[0]
        probs = probs[0]
    return (refined, probs) if return_probs else refined
