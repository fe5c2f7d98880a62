"""Checks of settings, run before any work starts (output paths: the output rule,
:mod:`mmseg_refiner.fileio.outputs`).

Each raises a :class:`UsageError` (a ``ValueError``)
whose message names the setting or path and says what to do. The API
(:func:`mmseg_refiner.apis.init_refiner`, :func:`~mmseg_refiner.apis.refine`)
and every tool use them, so a setting is refused in the same words everywhere.
"""
import numbers
import numpy as np
import torch
from typing import Optional, Union


class UsageError(ValueError):
    """A setting or command-line argument that cannot work (a tool exits with status 2)."""


#: Seeds are refused outside ``[0, 2**32 - 1]``: the range numpy's and
#: MMEngine's seeding (``np.random.seed``, ``randomness.seed``) accept, so a
#: seed valid for one route is valid for all.
MAX_SEED = 2**32 - 1


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
    """``seed`` as an int in ``[0, MAX_SEED]`` (``None`` passes); numpy integers
    (``np.int64(3)``) count as integers.

    Raises:
        UsageError: a non-integer seed, or one outside the range.
    """
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise UsageError(f'{name} must be an integer, got {seed!r}')
    seed = int(seed)
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
    ``args.batch_size`` (:func:`check_positive`; each of them when a tool takes several).
    """
    if getattr(args, 'device', None) is not None:
        check_device(args.device)
    if hasattr(args, 'seed'):
        check_seed(args.seed)
    if hasattr(args, 'batch_size'):
        sizes = args.batch_size if isinstance(args.batch_size, list) else [args.batch_size]
        for size in sizes:
            check_positive(size, '--batch-size')
