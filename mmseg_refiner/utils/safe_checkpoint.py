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

Every checkpoint read goes through :func:`load_checkpoint_file`: the package's
own loads, and MMEngine's (``load_checkpoint``, the Runner's ``load_from`` and
``--resume``, which reads ``work_dir/last_checkpoint``, the chains' part
checkpoints), which :func:`install_safe_checkpoint_loader` routes here when the
package is imported. ``weights_only=True`` is always passed explicitly, so
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` cannot switch it off (torch >= 2.6 gives
an explicit argument precedence; older torch is refused).

Every inference path loads weights strictly: :func:`load_weights` (the API,
and ``tools/test.py`` / ``tools/train.py`` before the Runner's non-strict
``load_from``) goes through the model's own load hooks and refuses an empty,
text, truncated or corrupt file, NaN / Inf
weights and weights of another architecture, naming the file and the first
offending keys.
"""
import builtins
import numpy as np
import os
import os.path as osp
import re
import torch
from collections import OrderedDict
from mmengine.logging import HistoryBuffer
from typing import Any, Dict, Mapping, Optional, Sequence

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
    dtype_classes = [
        type(np.dtype(name)) for name in ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8',
                                          'uint16', 'uint32', 'uint64', 'float16', 'float32',
                                          'float64', 'complex64', 'complex128', 'str', 'object')
    ]
    return [OrderedDict, codecs.encode, np.dtype, np.ndarray, _reconstruct, scalar, *dtype_classes]


_allowed = False


def allow_runner_checkpoint_globals() -> None:
    """Allow-list the types MMEngine Runner checkpoints hold (idempotent)."""
    global _allowed
    if _allowed or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(
        _numpy_globals() + [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')])
    _allowed = True


class CheckpointError(ValueError):
    """A checkpoint file that is not a usable checkpoint of the model; names the file."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holds pickled objects outside the allow-list (none was created)."""


#: The first torch whose ``torch.load(weights_only=True)`` holds whatever the
#: environment says (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` only changes the
#: default) and which has ``add_safe_globals``; ``setup.py`` requires it.
MIN_SAFE_TORCH = (2, 6)


def _torch_version() -> tuple:
    return tuple(int(part) for part in re.findall(r'\d+', torch.__version__.split('+')[0])[:2])


def check_safe_torch() -> None:
    """Refuse to load any checkpoint with a torch older than :data:`MIN_SAFE_TORCH`.

    Raises:
        UnsafeCheckpointError: naming the installed version and the floor.
    """
    if _torch_version() < MIN_SAFE_TORCH:
        raise UnsafeCheckpointError(
            f'torch {torch.__version__} cannot load checkpoints safely (a checkpoint could run '
            f'code); install torch >= {".".join(map(str, MIN_SAFE_TORCH))}')


#: How a file torch can load begins: a zip archive (torch >= 1.6) or a pickle
#: (protocol 2 or later, the legacy format).
_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_MAGIC = b'\x80'
#: At most this many keys are listed in a message.
MAX_LISTED_KEYS = 5


def _check_file_form(filename: str) -> None:
    """Refuse a path that cannot be a torch checkpoint, before ``torch.load`` sees it."""
    if not osp.exists(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    if osp.isdir(filename):
        raise CheckpointError(f'checkpoint {filename} is a directory, not a checkpoint file')
    size = osp.getsize(filename)
    if size == 0:
        raise CheckpointError(f'checkpoint {filename} is empty (0 bytes): an interrupted '
                              f'download or copy? Fetch or save it again')
    with open(filename, 'rb') as f:
        head = f.read(len(_ZIP_MAGIC))
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC)):
        raise CheckpointError(f'checkpoint {filename} is not a PyTorch checkpoint (it begins '
                              f'with {head!r}; a text file or an error page saved instead of '
                              f'the weights?)')


def load_checkpoint_file(filename: str, map_location: Optional[str] = 'cpu') -> Any:
    """``torch.load`` a checkpoint with ``weights_only=True``: THE checkpoint reader.

    ``filename`` is a local path or an ``http(s)://`` URL (downloaded once into
    torch hub's checkpoint cache, as MMEngine's loader does, then read from
    there). Every checkpoint the package, its tools and MMEngine read while it
    is imported comes here (:func:`install_safe_checkpoint_loader`).

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: the file is empty, a directory, not a torch file
            (e.g. text), or truncated / corrupt.
        UnsafeCheckpointError: the file holds a pickled object that is not a
            tensor, a container or one of the allow-listed Runner types; the
            object is not created and no code in the file runs.
    """
    filename = os.fspath(filename)
    check_safe_torch()
    if filename.startswith(('http://', 'https://')):
        filename = cached_download(filename)
    _check_file_form(filename)
    allow_runner_checkpoint_globals()
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except torch.serialization.pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'refused to load {filename}: it contains pickled objects that are not allowed '
            f'in a checkpoint (loading it could run arbitrary code). Torch said: '
            f'{str(err).splitlines()[0]}') from err
    except (RuntimeError, EOFError, IndexError, KeyError, ValueError, AttributeError) as err:
        # e.g. "PytorchStreamReader failed reading zip archive", "Ran out of input"
        said = (str(err).splitlines() or [''])[0]
        raise CheckpointError(f'checkpoint {filename} is truncated or corrupt '
                              f'({type(err).__name__}: {said}); fetch or save it again') from err


def checkpoint_state_dict(checkpoint: Any, filename: str) -> Dict[str, torch.Tensor]:
    """The weights of a loaded checkpoint: its ``state_dict`` (MMEngine) or itself.

    A ``module.`` prefix on every key (a checkpoint saved from a DDP-wrapped
    model) is removed, as MMEngine does.

    Raises:
        CheckpointError: the file holds no mapping of names to tensors.
    """
    state_dict = checkpoint
    if isinstance(checkpoint, Mapping) and 'state_dict' in checkpoint:
        state_dict = checkpoint['state_dict']
    if not isinstance(state_dict, Mapping) or not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        found = (f'a dict with keys {listing(list(checkpoint))}'
                 if isinstance(checkpoint, Mapping) else f'a {type(checkpoint).__name__}')
        raise CheckpointError(f'checkpoint {filename} holds no weights (neither a state_dict '
                              f'of tensors nor a dict with "state_dict"); it holds {found}')
    if all(key.startswith('module.') for key in state_dict):
        state_dict = OrderedDict((key[len('module.'):], v) for key, v in state_dict.items())
    return state_dict


def listing(keys: Sequence[str]) -> str:
    shown = ', '.join(str(k) for k in keys[:MAX_LISTED_KEYS])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > MAX_LISTED_KEYS else '')


def check_finite_weights(state_dict: Mapping[str, torch.Tensor], filename: str) -> None:
    """Refuse weights holding NaN or Inf (a diverged run): they give empty masks.

    Raises:
        CheckpointError: naming the file and the first such tensors.
    """
    bad = [
        key for key, tensor in state_dict.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if bad:
        raise CheckpointError(f'checkpoint {filename} has NaN or Inf values in {len(bad)} '
                              f'tensor(s): {listing(bad)} (a diverged training run?); use an '
                              f'earlier checkpoint')


#: One line of torch's ``load_state_dict`` size-mismatch report: key, checkpoint shape, model shape.
SIZE_MISMATCH = re.compile(r'size mismatch for (\S+): copying a param with shape '
                           r'torch\.Size\(\[([^\]]*)\]\) from checkpoint, the shape in current '
                           r'model is torch\.Size\(\[([^\]]*)\]\)')


def load_weights_strictly(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor],
                          filename: str) -> None:
    """Load ``state_dict`` into ``model`` and refuse it unless it fits (strict loading).

    The weights go through the model's own ``load_state_dict``, so its load
    hooks apply: a ``SegRefiner`` converts the authors' published layout, a
    chain wrapper routes a checkpoint of one part into that part and does not
    count the other part's keys as missing (it loads from its own setting).

    Raises:
        CheckpointError: naming the file and the first missing, unexpected and
            size-mismatched keys (a checkpoint of another architecture or size).
    """
    problems = []
    try:
        incompatible = model.load_state_dict(OrderedDict(state_dict), strict=False)
    except RuntimeError as error:  # sizes differ: torch lists them one per line
        mismatched = [
            f'{key} ({found}) vs ({expected})'
            for key, found, expected in SIZE_MISMATCH.findall(str(error))
        ]
        problems.append(f'{len(mismatched)} of different size (checkpoint vs model): '
                        f'{listing(mismatched)}')
    else:
        if incompatible.missing_keys:
            problems.append(f'{len(incompatible.missing_keys)} missing: '
                            f'{listing(incompatible.missing_keys)}')
        if incompatible.unexpected_keys:
            problems.append(f'{len(incompatible.unexpected_keys)} unexpected: '
                            f'{listing(incompatible.unexpected_keys)}')
    if problems:
        raise CheckpointError(
            f'checkpoint {filename} does not fit the model {type(model).__name__} of the config '
            f'(another architecture or size?): keys ' + '; '.join(problems) + '. Use the '
            'config the checkpoint was trained with')


def read_weights(filename: str, map_location: Any = 'cpu') -> Dict[str, torch.Tensor]:
    """The finite weights of a checkpoint file, read safely (:func:`load_checkpoint_file`).

    A tool calls it before building anything, so that a file that is not a
    checkpoint, or holds NaN/Inf weights, is refused before the work starts;
    :func:`load_weights_strictly` then loads the same weights into the model.

    Raises:
        FileNotFoundError, CheckpointError, UnsafeCheckpointError: naming the file.
    """
    filename = os.fspath(filename)
    state_dict = checkpoint_state_dict(load_checkpoint_file(filename, map_location), filename)
    check_finite_weights(state_dict, filename)
    return state_dict


def load_weights(model: torch.nn.Module, filename: str, map_location: Any = 'cpu') -> None:
    """Load a checkpoint's weights into ``model``, strictly and safely.

    The file is read with :func:`read_weights` (finite weights of a safe file),
    which must fit the model exactly (:func:`load_weights_strictly`).

    Raises:
        FileNotFoundError, CheckpointError, UnsafeCheckpointError: naming the file.
    """
    filename = os.fspath(filename)
    model = getattr(model, 'module', model)  # a model wrapped for distribution
    load_weights_strictly(model, read_weights(filename, map_location), filename)


def cached_download(url: str, model_dir: Optional[str] = None) -> str:
    """The local copy of a checkpoint URL in torch hub's cache (``<hub>/checkpoints``, where
    MMEngine's and torch's loaders keep downloads), downloaded when absent.

    In a distributed run rank 0 downloads first; the others wait and then find
    the file (or download their own copy when the cache is not shared).

    Raises:
        OSError: the URL cannot be fetched (naming it and the reason).
    """
    import torch.distributed as dist
    from mmengine.dist import get_dist_info
    from urllib.parse import urlparse
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(url).path) or 'checkpoint.pth')
    rank, world_size = get_dist_info()

    def fetch():
        if osp.isfile(cached):
            return
        os.makedirs(model_dir, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, cached, progress=False)
        except Exception as error:  # URLError, HTTPError, socket errors
            raise OSError(f'checkpoint {url} could not be downloaded: {error}') from error

    if rank == 0:
        fetch()
    if world_size > 1:
        dist.barrier()
        if rank > 0:
            fetch()
    return cached


def load_from_local_safely(filename, map_location=None):
    return load_checkpoint_file(osp.expanduser(filename), map_location)


def load_from_http_safely(filename, map_location=None, model_dir=None, progress=False):
    return load_checkpoint_file(cached_download(filename, model_dir), map_location)


def load_from_openmmlab_safely(filename, map_location=None):
    """``open-mmlab://name``: the URL (or file under MMEngine's home) MMEngine maps it to."""
    from mmengine.runner import checkpoint as mm_checkpoint
    name = filename.split('://', 1)[1]
    name = mm_checkpoint.get_deprecated_model_names().get(name, name)
    url = mm_checkpoint.get_external_models()[name]
    if not url.startswith(('http://', 'https://')):
        url = osp.join(mm_checkpoint._get_mmengine_home(), url)
    return load_checkpoint_file(url, map_location)


def load_from_refused_scheme(filename, map_location=None):
    raise UnsafeCheckpointError(
        f'checkpoint {filename}: this storage scheme is not read by mmseg_refiner (its loader '
        f'unpickles without weights_only); download the file and give its local path or an '
        f'http(s) URL')


_installed = False


def install_safe_checkpoint_loader() -> None:
    """Route MMEngine's ``CheckpointLoader`` (``load_checkpoint``, the Runner's ``load_from``
    and ``resume``, ``init_cfg=dict(type='Pretrained')``, the chains' part checkpoints)
    through :func:`load_checkpoint_file` for local files, ``http(s)://``, ``torchvision://``,
    ``mmcls://`` and ``open-mmlab://``; schemes whose loader unpickles unsafely (``pavi://``,
    ``s3://``) are refused. Idempotent; run when the package is imported."""
    global _installed
    if _installed:
        return
    from mmengine.runner import checkpoint as mm_checkpoint
    loader = mm_checkpoint.CheckpointLoader
    loader.register_scheme('', load_from_local_safely, force=True)
    loader.register_scheme(('http://', 'https://'), load_from_http_safely, force=True)
    loader.register_scheme(('open-mmlab://', 'openmmlab://'),
                           load_from_openmmlab_safely,
                           force=True)
    for prefix in list(loader._schemes):
        if loader._schemes[prefix].__name__ in ('load_from_pavi', 'load_from_ceph'):
            loader.register_scheme(prefix, load_from_refused_scheme, force=True)
    # torchvision:// and mmcls:// resolve their URL, then call this module-level function
    mm_checkpoint.load_from_http = load_from_http_safely
    mm_checkpoint.load_from_local = load_from_local_safely
    _installed = True
