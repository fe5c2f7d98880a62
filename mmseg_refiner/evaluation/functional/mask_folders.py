"""Pair ground-truth, predicted and coarse mask files by name, and score them.

Files are matched by their name stem after removing a per-folder suffix, e.g.
BIG's ``x_gt.png`` / ``x_seg.png`` with a refined ``x_refine.png`` share the
key ``x`` given the suffixes ``_gt``, ``_seg`` and ``_refine``.
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .mask_metrics import mask_record, read_binary_mask

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


@dataclass
class MaskFiles:
    """The files of one image: its key, ground truth, prediction, coarse mask."""
    key: str
    gt: str
    pred: str
    coarse: Optional[str] = None


@dataclass
class FolderMatch:
    """Result of matching folders: complete sets of files and what is missing."""
    matched: List[MaskFiles] = field(default_factory=list)
    missing_pred: List[str] = field(default_factory=list)
    missing_coarse: List[str] = field(default_factory=list)
    extra_pred: List[str] = field(default_factory=list)


def index_mask_folder(folder: str, suffix: str = '') -> Dict[str, str]:
    """Map each image file's key (stem minus ``suffix``) to its path.

    Files whose stem does not end with a non-empty ``suffix`` are ignored (a
    folder may hold images and masks side by side).

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: two files give the same key (listed).
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'mask folder {folder} does not exist')
    index: Dict[str, str] = {}
    clashes = []
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if ext.lower() not in IMAGE_EXTENSIONS or not stem.endswith(suffix):
            continue
        key = stem[:len(stem) - len(suffix)] if suffix else stem
        if key in index:
            clashes.append(f'{osp.basename(index[key])} / {name}')
            continue
        index[key] = osp.join(folder, name)
    if clashes:
        raise ValueError(f'{folder}: several files share a name once the suffix '
                         f'{suffix!r} is removed: {", ".join(clashes)}')
    return index


def match_mask_folders(gt_dir: str, pred_dir: str, coarse_dir: Optional[str] = None,
                       gt_suffix: str = '', pred_suffix: str = '',
                       coarse_suffix: str = '') -> FolderMatch:
    """Pair every ground-truth mask with its prediction (and coarse mask).

    Returns:
        The complete sets, in key order, and the keys lacking a prediction or
        coarse mask, and predictions without ground truth.
    """
    gts = index_mask_folder(gt_dir, gt_suffix)
    preds = index_mask_folder(pred_dir, pred_suffix)
    coarses = index_mask_folder(coarse_dir, coarse_suffix) if coarse_dir else None
    match = FolderMatch(extra_pred=sorted(set(preds) - set(gts)))
    for key, gt_path in gts.items():
        if key not in preds:
            match.missing_pred.append(key)
        if coarses is not None and key not in coarses:
            match.missing_coarse.append(key)
        if key in preds and (coarses is None or key in coarses):
            match.matched.append(
                MaskFiles(key, gt_path, preds[key], coarses[key] if coarses else None))
    return match


def evaluate_mask_files(files: MaskFiles, **mba_kwargs) -> dict:
    """Score one set of files.

    Returns:
        ``{'key': ..., **mask_record(...)}``, or ``{'key': ..., 'error': msg}``
        when a file is unreadable or its size differs from the ground truth.
    """
    try:
        gt = read_binary_mask(files.gt)
        pred = read_binary_mask(files.pred)
        coarse = read_binary_mask(files.coarse) if files.coarse else None
    except OSError as error:
        return {'key': files.key, 'error': str(error)}
    for path, mask in ((files.pred, pred), (files.coarse, coarse)):
        if mask is not None and mask.shape != gt.shape:
            return {
                'key': files.key,
                'error': f'{path} is {mask.shape[1]}x{mask.shape[0]} but its ground truth '
                         f'{files.gt} is {gt.shape[1]}x{gt.shape[0]} (width x height)'
            }
    return {'key': files.key, **mask_record(pred, gt, coarse, **mba_kwargs)}
