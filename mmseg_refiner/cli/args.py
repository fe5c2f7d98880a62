"""Command-line arguments several tools take, defined once: ``--cfg-options``, the
``--device`` / ``--precision`` of a tool that refines with a model, the arguments of the
Runner tools (train, test), and the paths a tool reads and writes (:func:`add_input_arg`,
:func:`add_output_arg`), which the package's one output rule
(:mod:`mmseg_refiner.fileio.outputs`) checks when the arguments are parsed
(:func:`parse_checked_args`). Every tool declares its paths this way
(``tests/test_tools/test_output_rule.py`` walks every tool's arguments)."""
import argparse
import os
import os.path as osp
from mmengine.config import DictAction
from typing import Callable, List, Optional, Sequence, Tuple, Union

from mmseg_refiner.fileio.outputs import JobPath, OutputPathError, check_outputs
from mmseg_refiner.models.utils import PRECISIONS
from mmseg_refiner.utils.checks import UsageError


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
    add_output_arg(
        parser,
        '--work-dir',
        folder=True,
        help='folder for logs and checkpoints (default: ./work_dirs/<config name>)')
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


#: What a checkpoint a tool writes may be called.
CHECKPOINT_FORMATS = ('.pth', '.pt', '.ckpt')


def _job_path(action, role: str, folder: Union[bool, Callable], formats: Sequence[str]):
    action.job_path = dict(role=role, folder=folder, formats=tuple(f.lower() for f in formats))
    return action


def add_input_arg(parser, *flags, folder: Union[bool, str] = False, **kwargs):
    """An argument naming a path the tool reads: a file, a folder (whose files are all
    inputs), or ``folder='auto'`` (whichever it is on disk). Checked by the output rule
    (:mod:`mmseg_refiner.fileio.outputs`) in :func:`parse_checked_args`."""
    return _job_path(parser.add_argument(*flags, **kwargs), 'input', folder, ())


def add_output_arg(parser,
                   *flags,
                   folder: Union[bool, Callable] = False,
                   formats: Sequence[str] = (),
                   **kwargs):
    """An argument naming a path the tool writes: a file of one of ``formats`` (extensions
    with the dot; empty for any), or a folder (``folder=True``, or a function of the parsed
    arguments saying whether it is one). Checked by the output rule in
    :func:`parse_checked_args` before any work starts."""
    return _job_path(parser.add_argument(*flags, **kwargs), 'output', folder, formats)


def declared_paths(parser, args) -> Tuple[List[JobPath], List[JobPath]]:
    """``(outputs, inputs)``: the :class:`JobPath` of every declared argument ``args`` sets."""
    outputs, inputs = [], []
    for action in parser._actions:
        spec = getattr(action, 'job_path', None)
        value = getattr(args, action.dest, None)
        if spec is None or value is None:
            continue
        name = action.option_strings[0] if action.option_strings else action.dest
        for path in value if isinstance(value, (list, tuple)) else [value]:
            if '://' in os.fspath(path):  # a URL: nothing on this machine is written over
                continue
            folder = spec['folder']
            if callable(folder):
                folder = bool(folder(args))
            elif folder == 'auto':
                folder = osp.isdir(path)
            job_path = JobPath(name, os.fspath(path), folder, spec['formats'])
            (outputs if spec['role'] == 'output' else inputs).append(job_path)
    return outputs, inputs


def check_job_paths(
    args, outputs: Sequence[Optional[JobPath]] = (),
    inputs: Sequence[Optional[JobPath]] = ()) -> None:
    """The output rule on the declared paths of ``args`` plus more ``outputs`` / ``inputs``
    (files a tool derives: a progress log, the files a config names).

    Raises:
        UsageError: naming the output, the input and why.
    """
    declared_outputs, declared_inputs = args.job_paths
    try:
        check_outputs([*declared_outputs, *outputs], [*declared_inputs, *inputs])
    except OutputPathError as error:
        raise UsageError(str(error)) from None


def parse_checked_args(parser, argv=None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, then the output rule on the declared paths.

    The parsed arguments carry ``job_paths`` (``(outputs, inputs)``) for
    :func:`check_job_paths`.

    Raises:
        UsageError: an output that would replace or mix with an input, or of the
            wrong format.
    """
    args = parser.parse_args(argv)
    args.job_paths = declared_paths(parser, args)
    check_job_paths(args)
    return args
