"""Runner set-up shared by tools/train.py and tools/test.py: config loading (with the
key check every tool runs) and distributed launch on machines with or without CUDA."""
import copy
import logging
import os
import os.path as osp
import torch
import torch.distributed as torch_dist
import warnings
from mmengine.config import Config
from typing import Mapping, Optional

from mmseg_refiner.apis.config_keys import validate_config
from mmseg_refiner.fileio.outputs import JobPath
from mmseg_refiner.utils.config_file import read_config_file
from mmseg_refiner.utils.safe_checkpoint import CheckpointError, load_weights_strictly, read_weights


def load_config(args) -> Config:
    """Read the config, apply ``--cfg-options``, check its keys, set the launcher and work dir.

    Raises:
        FileNotFoundError, ConfigFileError: no such config, or it cannot be read.
        ConfigKeyError: a key nothing reads (see :func:`validate_config`).
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = read_config_file(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    validate_config(cfg, args.cfg_options)
    fit_short_and_debugging_runs(cfg)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


#: The dataloaders a Runner builds from a config.
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def fit_short_and_debugging_runs(cfg: Config) -> None:
    """Settings that follow others, as a user debugging a config expects.

    - ``persistent_workers`` follows ``num_workers``: with ``num_workers=0``
      (the usual debugging setting) PyTorch refuses persistent workers, so they
      are turned off for that dataloader.
    - A training run shorter than the logger's interval would log no loss, LR
      or ETA: the interval becomes the run's length (``train_cfg.max_iters``).
    """
    for key in DATALOADERS:
        loader = cfg.get(key)
        if isinstance(loader, dict) and loader.get('num_workers', 1) == 0 and \
                loader.get('persistent_workers'):
            loader['persistent_workers'] = False
    max_iters = (cfg.get('train_cfg') or {}).get('max_iters')
    logger = (cfg.get('default_hooks') or {}).get('logger')
    if isinstance(max_iters, int) and max_iters > 0 and isinstance(logger, dict) and \
            logger.get('interval', 10) > max_iters:
        logger['interval'] = max_iters


def check_weights_fit(cfg: Config, weights: Optional[Mapping[str, torch.Tensor]] = None) -> None:
    """Refuse weights that do not fit the config's model before the Runner logs anything.

    The model is built on PyTorch's ``meta`` device (no memory, no computation) and
    ``weights`` (read from ``cfg.load_from``) loaded strictly into it; without them, a
    chain's ``model.refiner_checkpoint`` file is loaded into its refiner. A model that does
    not build on the meta device is left to the check after the Runner built it.

    Raises:
        CheckpointError: one line naming the file, the first keys that do not fit and the
            refiner configs the shipped checkpoints go with.
    """
    from mmengine.registry import DefaultScope

    import mmseg_refiner  # noqa: F401  (registers the models)
    from mmseg_refiner.models.wrappers.chain_weights import FIT_HINTS
    from mmseg_refiner.registry import MODELS
    setting = cfg.model.get('refiner_checkpoint') if 'refiner' in cfg.model else None
    if weights is None and not (isinstance(setting, str) and osp.isfile(setting)):
        return
    try:
        with torch.device('meta'), DefaultScope.overwrite_default_scope(
                cfg.get('default_scope', 'mmseg_refiner')):
            model = MODELS.build(copy.deepcopy(cfg.model))
    except Exception:  # noqa: BLE001  (the late check after the Runner built it stays)
        return
    target, filename = (model, cfg.load_from) if weights is not None else (model.refiner, setting)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # copying into meta parameters is a no-op, as wanted
        logging.disable(logging.INFO)  # the load hooks' notes come again with the real load
        try:
            load_weights_strictly(target, weights if weights is not None else read_weights(setting),
                                  filename)
        except CheckpointError as error:
            hint = f' {FIT_HINTS[0]}' if hasattr(model, 'refiner') or 'denoiser' in dict(
                model.named_children()) else ''
            raise CheckpointError(f'{error}.{hint}') from None
        finally:
            logging.disable(logging.NOTSET)


def setup_cpu_distributed(cfg: Config) -> None:
    """Make a ``pytorch``-launched run work on a machine without CUDA.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally and
    the Runner wraps the model in DDP with ``device_ids=[LOCAL_RANK]``, both of
    which fail for a CPU-only torch. On such a machine this initialises the
    gloo process group itself (the Runner then skips ``init_dist``) and asks
    for DDP with ``device_ids=None``. With CUDA present nothing changes.
    """
    if cfg.launcher != 'pytorch' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


#: Keys of a dataset config naming a file it reads / a folder it reads.
DATASET_INPUT_FILES = ('ann_file', 'results_file')
DATASET_INPUT_FOLDERS = ('img_dir', 'coarse_dir', 'gt_dir')


def dataset_job_paths(cfg: Config, section: str = 'test_dataloader'):
    """``(outputs, inputs)`` the config's dataset of ``section`` names, for the output rule:
    its annotation / results files and image / mask folders (relative to ``data_root``)
    and the folder it writes refined masks to (``out_dir``)."""
    dataset = (cfg.get(section) or {}).get('dataset') or {}
    root = dataset.get('data_root') or ''

    def path(value):
        return value if osp.isabs(value) or '://' in value else osp.join(root, value)

    name = f'{section}.dataset'
    inputs = [
        JobPath(f'{name}.{key}', path(dataset[key])) for key in DATASET_INPUT_FILES
        if isinstance(dataset.get(key), str) and dataset[key]
    ]
    folders = [(key, dataset[key]) for key in DATASET_INPUT_FOLDERS
               if isinstance(dataset.get(key), str)]
    prefixes = dataset.get('data_prefix') or {}
    folders += [(f'data_prefix.{key}', value) for key, value in prefixes.items()
                if isinstance(value, str)]
    inputs += [JobPath(f'{name}.{key}', path(value), folder=True) for key, value in folders]
    outputs = []
    if isinstance(dataset.get('out_dir'), str):
        outputs.append(JobPath(f'{name}.out_dir', dataset['out_dir'], folder=True))
    return outputs, inputs
