"""Command-line arguments several tools take, defined once: ``--cfg-options``, the
``--device`` / ``--precision`` of a tool that refines with a model, and the arguments of
the Runner tools (train, test)."""
from mmengine.config import DictAction

from mmseg_refiner.models.utils import PRECISIONS


def add_cfg_options_arg(parser, help: str = 'override config settings, key=value pairs') -> None:
    """``--cfg-options key=value ...`` (MMEngine's ``DictAction``): ``args.cfg_options``."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help=help)


def add_device_precision_args(parser) -> None:
    """``--device`` and ``--precision`` (one of :data:`PRECISIONS`, overriding the config's
    ``test_cfg.precision``); both default to ``None``."""
    parser.add_argument(
        '--device', help="e.g. 'cpu' or 'cuda:0' (default: CUDA when available, else the CPU)")
    parser.add_argument(
        '--precision',
        choices=PRECISIONS,
        help="the network's precision (default: the config's test_cfg.precision, 'auto': bf16 "
        "where the hardware runs it natively, else fp32); 'fp32' gives exact float32 results")


def add_common_args(parser) -> None:
    """Arguments every runner tool takes (as in mmdet's tools)."""
    parser.add_argument(
        '--work-dir', help='folder for logs and checkpoints (default: ./work_dirs/<config name>)')
    add_cfg_options_arg(
        parser,
        help='override config settings, key=value pairs, e.g. '
        'model.test_cfg.seed=0 train_dataloader.batch_size=4')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (tools/dist_*.sh use pytorch)')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
