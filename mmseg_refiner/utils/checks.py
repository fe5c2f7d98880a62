"""Checks of settings and output paths, run before any work starts.

Each raises a :class:`UsageError` (a ``ValueError``)
whose message names the setting or path and says what to do. The API
(:func:`mmseg_refiner.apis.init_refiner`, :func:`~mmseg_refiner.apis.refine`)
and every tool use them, so a setting is refused in the same words everywhere.
"""
import os
import os.path as osp
from typing import Iterable, Optional, Union

import torch



class UsageError(ValueError):
    """A setting or command-line argument that cannot work (a tool exits with status 2)."""


#: Seeds are refused outside ``[0, 2**32 - 1]``: the range numpy's and
#: MMEngine's seeding (``np.random.seed``, ``randomness.seed``) accept, so a
#: seed valid for one route is valid for all.
MAX_SEED = 2**32 - 1

PathLike = Union[str, os.PathLike]


def check_device(device: Union[str, torch.device], name: str = '--device') -> torch.device:
    """The ``torch.device`` of ``device``, refused if this machine does not have it.

    Raises:
        UsageError: an unknown device string (e.g. ``'gpu'``), or a device type
            / index torch cannot use here (``'cuda'`` without CUDA, ``'cuda:3'``
            with two GPUs).
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise UsageError(f'{name} {device!r} is not a device torch knows; use e.g. cpu, cuda, '
                         f'cuda:0 ({str(err).splitlines()[0]})') from None
    if parsed.type == 'cpu':
        return parsed
    backend = getattr(torch, parsed.type, None)
    if parsed.type == 'mps':
        backend = getattr(torch.backends, 'mps', None)
    available = bool(backend is not None and getattr(backend, 'is_available', lambda: False)())
    if not available:
        raise UsageError(f'{name} {device}: this machine has no {parsed.type} device '
                         f'(torch.{parsed.type} is not available here); use {name} cpu')
    count = getattr(backend, 'device_count', lambda: 1)()
    if parsed.index is not None and parsed.index >= count:
        raise UsageError(f'{name} {device}: this machine has {count} {parsed.type} device(s), '
                         f'numbered 0..{count - 1}')
    return parsed


def check_seed(seed: Optional[int], name: str = '--seed') -> Optional[int]:
    """``seed`` as an int in ``[0, MAX_SEED]`` (``None`` passes).

    Raises:
        UsageError: a non-integer seed, or one outside the range.
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(f'{name} must be an integer, got {seed!r}')
    if not 0 <= seed <= MAX_SEED:
        raise UsageError(f'{name} {seed} is out of range: seeds are integers in 0..{MAX_SEED}')
    return seed


def check_positive(value: Optional[int], name: str) -> Optional[int]:
    """``value`` if it is a positive integer (``None`` passes).

    Raises:
        UsageError: zero, negative or not an integer.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f'{name} must be a positive integer, got {value!r}')
    return value


def check_common_args(args) -> None:
    """Check the settings many tools share, when ``args`` has them.

    ``args.device`` (:func:`check_device`), ``args.seed`` (:func:`check_seed`),
    ``args.batch_size`` (:func:`check_positive`).
    """
    if getattr(args, 'device', None) is not None:
        check_device(args.device)
    if hasattr(args, 'seed'):
        check_seed(args.seed)
    if hasattr(args, 'batch_size'):
        check_positive(args.batch_size, '--batch-size')


def _real(path: PathLike) -> str:
    return osp.realpath(os.fspath(path))


def _is_within(path: str, folder: str) -> bool:
    """Whether real path ``path`` is ``folder`` or lies inside it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_file(path: PathLike, inputs: Iterable[PathLike] = (),
                      name: str = '--out') -> str:
    """Refuse an output file path that cannot be written or would replace an input.

    Args:
        path: the file to write.
        inputs: the files the job reads; none may be ``path`` (also through a
            link).
        name: how the user gave ``path`` (for messages).

    Returns:
        ``path`` as given.

    Raises:
        UsageError: ``path`` is an existing directory, its parent is a file,
            or it is one of ``inputs``.
    """
    path = os.fspath(path)
    if osp.isdir(path):
        raise UsageError(f'{name} {path} is an existing directory; give a file name '
                         f'(e.g. {osp.join(path, "out" + _suggested_ext(inputs))})')
    parent = osp.dirname(osp.abspath(path))
    while parent and not osp.exists(parent):
        parent = osp.dirname(parent)
    if parent and not osp.isdir(parent):
        raise UsageError(f'{name} {path}: its parent {parent} is a file, not a folder')
    real = _real(path)
    for source in inputs:
        if source is not None and _real(source) == real:
            raise UsageError(f'{name} {path} is the input {os.fspath(source)}; writing it would '
                             f'destroy the input: choose another output file')
    return path


def _suggested_ext(inputs: Iterable[PathLike]) -> str:
    for source in inputs:
        if source is not None:
            return osp.splitext(os.fspath(source))[1]
    return ''


def check_output_folder(folder: PathLike, input_folders: Iterable[PathLike],
                        name: str = '--out') -> str:
    """Refuse an output folder that is, contains or lies inside an input folder.

    Writing into an input folder replaces inputs (an output named like an
    image) or mixes outputs with inputs (a later run reads them as inputs);
    an output folder containing an input folder would do the same there.

    Raises:
        UsageError: naming both folders, or ``folder`` is an existing file.
    """
    folder = os.fspath(folder)
    if osp.exists(folder) and not osp.isdir(folder):
        raise UsageError(f'{name} {folder} is an existing file, not a folder; give a folder '
                         f'for a folder run')
    real = _real(folder)
    for source in input_folders:
        if source is None:
            continue
        source_real = _real(source)
        if real == source_real:
            relation = 'is'
        elif _is_within(real, source_real):
            relation = 'lies inside'
        elif _is_within(source_real, real):
            relation = 'contains'
        else:
            continue
        raise UsageError(f'{name} {folder} {relation} the input folder {os.fspath(source)}: '
                         f'outputs would replace or mix with inputs; choose a folder outside it')
    return folder
