"""Loading MMEngine Runner checkpoints under ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` only unpickles tensors, plain containers and
globals on an explicit allow-list. The MMEngine Runner stores a few more types
in ``meta`` (numpy scalars and arrays, the message hub's ``HistoryBuffer`` and
references such as ``HistoryBuffer.mean`` that pickle as ``getattr(cls, name)``),
so ``--resume`` and ``load_from`` fail out of the box.

:func:`allow_runner_checkpoint_globals` adds exactly those types to torch's
allow-list. ``getattr`` itself is never allowed: :func:`_history_buffer_getattr`
stands in for ``builtins.getattr`` and resolves only the four statistics
methods of ``HistoryBuffer``. Any other pickled global (``os.system``...) is
still refused by torch, and :func:`load_checkpoint_file` turns that refusal
into an error naming the file.
"""
import builtins
from typing import Any, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_HISTORY_BUFFER_METHODS = frozenset({'min', 'max', 'mean', 'current'})


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to ``HistoryBuffer.{min,max,mean,current}``."""
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return builtins.getattr(obj, name)
    raise torch.serialization.pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only '
        f'HistoryBuffer.{{{", ".join(sorted(_HISTORY_BUFFER_METHODS))}}} are allowed')


def _numpy_globals() -> list:
    import codecs
    from collections import OrderedDict
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(name)) for name in (
        'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64',
        'float16', 'float32', 'float64', 'complex64', 'complex128', 'str', 'object')]
    return [OrderedDict, codecs.encode, np.dtype, np.ndarray, _reconstruct, scalar,
            *dtype_classes]


_allowed = False


def allow_runner_checkpoint_globals() -> None:
    """Allow-list the types MMEngine Runner checkpoints hold (idempotent)."""
    global _allowed
    if _allowed or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(
        _numpy_globals() + [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')])
    _allowed = True


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds pickled objects outside the allow-list."""


def load_checkpoint_file(filename: str, map_location: Optional[str] = 'cpu') -> Any:
    """``torch.load`` a local checkpoint with ``weights_only=True``.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the file holds a pickled object that is not a
            tensor, a container or one of the allow-listed Runner types; the
            object is not created and no code in the file runs.
    """
    allow_runner_checkpoint_globals()
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except torch.serialization.pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'refused to load {filename}: it contains pickled objects that are not allowed '
            f'in a checkpoint (loading it could run arbitrary code). Torch said: '
            f'{str(err).splitlines()[0]}') from err
