"""THE output rule: nothing a job writes may replace or mix with what it reads.

Every tool declares the paths it reads and writes (files and folders) and
hands them to :func:`check_outputs` before any work starts. A path it writes is
refused when

* it is not of the declared format (``--out r.jpg`` for a PNG mask, a JSON
  file for a ``.pkl``): decided from the name, before anything is computed;
* it is an existing folder where a file is written (or a file where a folder
  is), or its parent is a file;
* it is an input file (the same real path, through links too, or the same file
  through a hard link), or an input file reached through a link inside an
  input folder;
* an output *file* lies inside an input folder (it would replace one of the
  folder's files or be read as one by the next run), or an output *folder* is,
  contains or lies inside an input folder;
* two outputs are one file, or two output folders are one or nested.

An input file may lie in an output folder (a checkpoint in the work dir, as
MMEngine keeps them): the tool names the files it writes there as outputs of
their own when it knows them.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple, Union

PathLike = Union[str, os.PathLike]

#: Files of an input folder looked at (links followed to their targets) at most,
#: so that a huge data root costs a bounded time.
MAX_FOLDER_FILES = 200_000


class OutputPathError(ValueError):
    """An output path that breaks the output rule; names the argument and the paths."""


@dataclass(frozen=True)
class JobPath:
    """A path a job reads or writes.

    Attributes:
        name: how the user gave it (``--out``, ``img_dir``, ``config's ann_file``).
        path: the path.
        folder: a folder (of inputs, or to write into) rather than one file.
        formats: for an output file, the extensions it may have (lower case,
            with the dot); empty for any.
    """
    name: str
    path: str
    folder: bool = False
    formats: Tuple[str, ...] = ()


def _real(path: str) -> str:
    return osp.realpath(osp.expanduser(path))


def _within(path: str, folder: str) -> bool:
    """Whether real path ``path`` is ``folder`` or lies inside it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _inode(path: str) -> Optional[Tuple[int, int]]:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _linked_files(folder: str) -> List[Tuple[str, str]]:
    """``(entry, real target)`` of the links inside ``folder`` (recursively, bounded)."""
    linked, seen = [], 0
    for root, dirs, files in os.walk(folder):
        for entry in files + dirs:
            seen += 1
            full = osp.join(root, entry)
            if osp.islink(full):
                linked.append((full, _real(full)))
        if seen > MAX_FOLDER_FILES:
            break
    return linked


def _check_form(out: JobPath) -> None:
    path = out.path
    if out.folder:
        if osp.exists(path) and not osp.isdir(path):
            raise OutputPathError(f'{out.name} {path} is an existing file, not a folder; give a '
                                  f'folder to write into')
    else:
        if osp.isdir(path):
            example = osp.join(path, 'out' + (out.formats[0] if out.formats else ''))
            raise OutputPathError(f'{out.name} {path} is an existing directory; give a file '
                                  f'name (e.g. {example})')
        ext = osp.splitext(path)[1].lower()
        if out.formats and ext not in out.formats:
            raise OutputPathError(
                f'{out.name} {path}: the output must be a {" or ".join(out.formats)} file, '
                f'not {ext or "a name without extension"}')
    parent = osp.dirname(osp.abspath(path))
    while parent and not osp.exists(parent):
        parent = osp.dirname(parent)
    if parent and not osp.isdir(parent):
        raise OutputPathError(f'{out.name} {path}: its parent {parent} is a file, not a folder')


def _conflict(out: JobPath, source: JobPath, linked: dict) -> Optional[str]:
    """Why writing ``out`` would harm input ``source`` (None when it would not)."""
    real_out, real_in = _real(out.path), _real(source.path)
    if source.folder:
        if _within(real_out, real_in):
            return (f'is the input folder {source.path}' if real_out == real_in else
                    f'lies inside the input folder {source.path} ({source.name})')
        if out.folder and _within(real_in, real_out):
            return f'contains the input folder {source.path} ({source.name})'
        for entry, target in linked.get(source.path, ()):
            if _within(target, real_out) if out.folder else target == real_out:
                return f'is where {entry}, a link in the input folder {source.name}, points'
        return None
    if out.folder:
        return None  # an input file may live in an output folder (a checkpoint in the work dir)
    if real_out == real_in:
        return f'is the input {source.path} ({source.name})'
    inode = _inode(out.path)
    if inode is not None and inode == _inode(source.path):
        return f'is the same file (a hard link) as the input {source.path} ({source.name})'
    return None


def _check_outputs_apart(outputs: Sequence[JobPath]) -> None:
    for i, first in enumerate(outputs):
        for second in outputs[i + 1:]:
            a, b = _real(first.path), _real(second.path)
            # Nested output folders are the OpenMMLab norm (a show_dir inside the work_dir).
            if a == b:
                raise OutputPathError(f'{second.name} {second.path} and {first.name} '
                                      f'{first.path} would write over each other; give them '
                                      f'different paths')


def check_outputs(
    outputs: Iterable[Optional[JobPath]], inputs: Iterable[Optional[JobPath]] = ()) -> None:
    """Apply the output rule (module docstring) to a job's paths; ``None`` entries and
    entries whose ``path`` is ``None`` are skipped.

    Raises:
        OutputPathError: naming the output, the input it would harm and why.
    """
    outputs = list({(p.name, _real(p.path)): p
                    for p in outputs if p is not None and p.path is not None}.values())
    inputs = [p for p in inputs if p is not None and p.path is not None]
    for out in outputs:
        _check_form(out)
    linked = {
        source.path: _linked_files(source.path)
        for source in inputs if source.folder and osp.isdir(source.path)
    }
    for out in outputs:
        for source in inputs:
            why = _conflict(out, source, linked)
            if why is not None:
                raise OutputPathError(
                    f'{out.name} {out.path} {why}: writing it would destroy or mix with an '
                    f'input; choose an output outside the inputs')
    _check_outputs_apart(outputs)
