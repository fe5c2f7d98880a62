"""Matching images to masks by name.

A folder is indexed by **key**: a file ``<prefix><key><suffix>`` has the key
``key``, where ``suffix`` includes the extension (``'.png'``, ``'_gt.png'``,
``'_im.jpg'``) and is matched case-insensitively. Files of different folders
go together when their keys are equal, e.g. BIG's ``x_im.jpg``, ``x_gt.png``,
``x_seg.png`` and a refined ``x_refine.png`` all have the key ``x``.

A suffix that does not end with an image extension (``'_seg'``, ``''``) stands
for itself followed by any of :data:`~.images.IMAGE_EXTENSIONS`, so ``'_seg'``
and ``'_seg.png'`` both find ``x_seg.png``.

Two files of one folder with the same key (``a.jpg`` and ``a.png``) are an
error naming both: which one is meant cannot be guessed.

Hidden files (``.name``), subfolders and links to nothing are left out, and a
:class:`SkippedEntriesWarning` names the ones left out, so that a folder run
never drops a file without a word.
"""
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .images import IMAGE_EXTENSIONS

Suffixes = Union[str, Sequence[str]]

#: Entries named in a :class:`SkippedEntriesWarning` before "... and N more".
SHOWN_SKIPPED = 5


class SkippedEntriesWarning(UserWarning):
    """A folder holds entries that are not read: hidden files, subfolders, broken links."""


def with_image_extensions(stem_suffix: str = '') -> Tuple[str, ...]:
    """``stem_suffix`` then each of :data:`IMAGE_EXTENSIONS` (``'_gt'`` -> ``'_gt.png'``...)."""
    return tuple(stem_suffix + ext for ext in IMAGE_EXTENSIONS)


def _expand(suffixes: Suffixes) -> Tuple[str, ...]:
    """Each suffix, or it followed by every image extension when it has none (module docstring)."""
    expanded: List[str] = []
    for suffix in (suffixes, ) if isinstance(suffixes, str) else suffixes:
        has_extension = suffix.lower().endswith(IMAGE_EXTENSIONS)
        expanded.extend([suffix] if has_extension else with_image_extensions(suffix))
    return tuple(expanded)


def file_key(name: str, suffixes: Suffixes, prefix: str = '') -> Optional[str]:
    """The key of file ``name`` (see the module docstring), or None if it does not match."""
    suffixes = _expand(suffixes)
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix):]
    for suffix in sorted(suffixes, key=len, reverse=True):  # '_gt.png' before '.png'
        if rest.lower().endswith(suffix.lower()) and len(rest) > len(suffix):
            return rest[:len(rest) - len(suffix)]
    return None


def index_folder(folder: str,
                 suffixes: Suffixes = IMAGE_EXTENSIONS,
                 prefix: str = '',
                 what: str = 'file') -> Dict[str, str]:
    """``{key: path}`` of the files of ``folder`` that match, in name order.

    Args:
        folder: the folder (not searched recursively).
        suffixes: what the names end with; one or several (without an image
            extension: followed by any, see the module docstring).
        prefix: what the names start with.
        what: names the folder in errors (``'image'``, ``'mask'``...).

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: several files have the same key (all clashes listed).
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{what} folder {folder} does not exist')
    index: Dict[str, str] = {}
    clashes: List[str] = []
    skipped: Dict[str, List[str]] = {'hidden': [], 'subfolder': [], 'link to nothing': []}
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if osp.isdir(path):
            skipped['subfolder'].append(name)
            continue
        if osp.islink(path) and not osp.exists(path):
            skipped['link to nothing'].append(name)
            continue
        key = file_key(name, suffixes, prefix)
        if key is None or not osp.isfile(path):
            continue
        if name.startswith('.'):
            skipped['hidden'].append(name)
            continue
        if key in index:
            clashes.append(f'{osp.basename(index[key])} and {name}')
            continue
        index[key] = osp.join(folder, name)
    if clashes:
        raise ValueError(f'{what} folder {folder}: several files share a name, which makes the '
                         f'match ambiguous: {"; ".join(clashes)} (remove or rename one of each)')
    _warn_skipped(folder, what, skipped)
    return index


def _warn_skipped(folder: str, what: str, skipped: Dict[str, List[str]]) -> None:
    parts = []
    for kind, names in skipped.items():
        if names:
            shown = ', '.join(names[:SHOWN_SKIPPED])
            more = f' and {len(names) - SHOWN_SKIPPED} more' if len(names) > SHOWN_SKIPPED else ''
            parts.append(f'{len(names)} {kind} ({shown}{more})')
    if parts:
        warnings.warn(
            f'{what} folder {folder}: left out {"; ".join(parts)}',
            SkippedEntriesWarning,
            stacklevel=3)


def match_keys(
    primary: Dict[str, str],
    others: Dict[str, Dict[str,
                           str]]) -> Tuple[List[Tuple[str, Dict[str, str]]], Dict[str, List[str]]]:
    """Pair each key of ``primary`` with the files of the other folders.

    Args:
        primary: ``{key: path}`` of the leading folder (e.g. the images).
        others: ``{role: {key: path}}`` of the folders to match (e.g.
            ``{'coarse_path': ..., 'mask_path': ...}``).

    Returns:
        ``(matched, missing)``: ``matched`` lists ``(key, {'primary': path,
        role: path, ...})`` for the keys found in every folder, in key order;
        ``missing`` maps each role to the keys it lacks.
    """
    matched, missing = [], {role: [] for role in others}
    for key in sorted(primary):
        absent = [role for role, index in others.items() if key not in index]
        for role in absent:
            missing[role].append(key)
        if not absent:
            files = dict(primary=primary[key])
            files.update({role: index[key] for role, index in others.items()})
            matched.append((key, files))
    return matched, missing
