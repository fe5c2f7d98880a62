"""Pair ground-truth, predicted and coarse mask files by name, and score them.

Files are matched by :mod:`mmseg_refiner.fileio.matching`: by their name stem
after removing a per-folder suffix (any image extension), e.g. BIG's
``x_gt.png`` / ``x_seg.png`` with a refined ``x_refine.png`` share the key
``x`` given the suffixes ``_gt``, ``_seg`` and ``_refine``. Masks are read
under the one mask rule (:mod:`mmseg_refiner.fileio.masks`).
"""
from dataclasses import dataclass, field
from typing import List, Optional

from mmseg_refiner.fileio import index_folder, match_keys, read_mask
from .mask_metrics import mask_record


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


def match_mask_folders(gt_dir: str,
                       pred_dir: str,
                       coarse_dir: Optional[str] = None,
                       gt_suffix: str = '',
                       pred_suffix: str = '',
                       coarse_suffix: str = '') -> FolderMatch:
    """Pair every ground-truth mask with its prediction (and coarse mask).

    Returns:
        The complete sets, in key order, and the keys lacking a prediction or
        coarse mask, and predictions without ground truth.

    Raises:
        FileNotFoundError: a folder does not exist.
        ValueError: two files of a folder have the same key (e.g. ``a.png``
            and ``a.jpg``), naming them.
    """
    gts = index_folder(gt_dir, gt_suffix, what='ground-truth mask')
    others = dict(pred=index_folder(pred_dir, pred_suffix, what='predicted mask'))
    if coarse_dir:
        others['coarse'] = index_folder(coarse_dir, coarse_suffix, what='coarse mask')
    matched, missing = match_keys(gts, others)
    return FolderMatch(
        matched=[
            MaskFiles(key, files['primary'], files['pred'], files.get('coarse'))
            for key, files in matched
        ],
        missing_pred=missing['pred'],
        missing_coarse=missing.get('coarse', []),
        extra_pred=sorted(set(others['pred']) - set(gts)))


def evaluate_mask_files(files: MaskFiles, **mba_kwargs) -> dict:
    """Score one set of files.

    Returns:
        ``{'key': ..., **mask_record(...)}``, or ``{'key': ..., 'error': msg}``
        when a file is unreadable or its size differs from the ground truth.
    """
    try:
        gt = read_mask(files.gt)
        pred = read_mask(files.pred)
        coarse = read_mask(files.coarse) if files.coarse else None
    except (OSError, ValueError) as error:
        return {'key': files.key, 'error': str(error)}
    for path, mask in ((files.pred, pred), (files.coarse, coarse)):
        if mask is not None and mask.shape != gt.shape:
            return {
                'key':
                files.key,
                'error':
                f'{path} is {mask.shape[1]}x{mask.shape[0]} but its ground truth '
                f'{files.gt} is {gt.shape[1]}x{gt.shape[0]} (width x height)'
            }
    return {'key': files.key, **mask_record(pred, gt, coarse, **mba_kwargs)}
