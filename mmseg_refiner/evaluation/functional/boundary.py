"""Mask boundaries and Boundary IoU (Cheng et al., "Boundary IoU: Improving
Object-Centric Image Segmentation Evaluation", CVPR 2021).

The boundary of a mask is the set of its pixels within distance ``d`` of the
mask's contour: the mask minus its erosion by ``d`` iterations of a 3x3 kernel,
with ``d = round(dilation_ratio * image diagonal)`` (at least 1). The mask is
zero-padded by one pixel before eroding, so an object cut by the image border
has a boundary along that border too.

Boundary AP computes every boundary once per mask (see
:func:`compute_boundary_rles`), stores it as an RLE, and lets pycocotools
intersect RLEs, which is what makes it affordable on COCO / LVIS.
"""
import cv2
import math
import multiprocessing
import numpy as np
import os
import pycocotools.mask as mask_utils
from functools import partial
from typing import List, Optional, Sequence, Tuple

from mmseg_refiner.fileio import decode_rle, encode_mask
from mmseg_refiner.utils.settings import check_float, check_int

#: The paper's boundary width, as a fraction of the image diagonal.
DEFAULT_DILATION_RATIO = 0.02


def boundary_width(height: int, width: int, dilation_ratio: float = DEFAULT_DILATION_RATIO) -> int:
    """Boundary width ``d`` in pixels for an image of the given size.

    Args:
        height: Image height.
        width: Image width.
        dilation_ratio: ``d`` as a fraction of the image diagonal.

    Returns:
        ``max(1, round(dilation_ratio * sqrt(height^2 + width^2)))``.
    """
    return max(1, int(round(dilation_ratio * math.hypot(height, width))))


def mask_to_boundary(mask: np.ndarray,
                     dilation_ratio: float = DEFAULT_DILATION_RATIO) -> np.ndarray:
    """Inner boundary band of a binary mask.

    Only the mask's bounding box (plus the one-pixel zero padding) is eroded:
    outside the box the mask is zero, so this gives exactly the result of
    eroding the whole zero-padded image, at a cost proportional to the box.

    Args:
        mask: ``HxW`` binary mask (any dtype; non-zero is foreground).
        dilation_ratio: Boundary width as a fraction of the image diagonal.

    Returns:
        ``HxW`` bool array, True on the mask's boundary pixels.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'mask_to_boundary expects an HxW mask, got shape {mask.shape}')
    mask = mask.astype(bool)
    height, width = mask.shape
    boundary = np.zeros((height, width), dtype=bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return boundary
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = mask[y0:y1, x0:x1].astype(np.uint8)
    padded = cv2.copyMakeBorder(crop, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    iterations = boundary_width(height, width, dilation_ratio)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=iterations)[1:-1, 1:-1]
    boundary[y0:y1, x0:x1] = (crop > 0) & (eroded == 0)
    return boundary


def boundary_iou(pred: np.ndarray,
                 gt: np.ndarray,
                 dilation_ratio: float = DEFAULT_DILATION_RATIO) -> float:
    """Boundary IoU ``|B(P) & B(G)| / |B(P) | B(G)|`` of two binary masks.

    Args:
        pred: ``HxW`` predicted mask.
        gt: ``HxW`` ground-truth mask.
        dilation_ratio: Boundary width as a fraction of the image diagonal.

    Returns:
        The Boundary IoU in [0, 1]; 0 when both boundaries are empty (as
        pycocotools scores two empty masks).
    """
    if np.shape(pred) != np.shape(gt):
        raise ValueError(f'prediction {np.shape(pred)} and ground truth {np.shape(gt)} '
                         'masks differ in size')
    pred_boundary = mask_to_boundary(pred, dilation_ratio)
    gt_boundary = mask_to_boundary(gt, dilation_ratio)
    union = np.count_nonzero(pred_boundary | gt_boundary)
    if union == 0:
        return 0.0
    return np.count_nonzero(pred_boundary & gt_boundary) / union


def rle_to_boundary_rle(rle: dict, dilation_ratio: float = DEFAULT_DILATION_RATIO) -> dict:
    """Boundary of a COCO RLE mask, as a COCO RLE of the same size.

    Args:
        rle: Compressed COCO RLE (``size`` and ``counts``, str or bytes).
        dilation_ratio: Boundary width as a fraction of the image diagonal.

    Returns:
        Compressed RLE (``counts`` as str) of the boundary.
    """
    return encode_mask(mask_to_boundary(decode_rle(rle), dilation_ratio))


def compute_boundary_rles(rles: Sequence[dict],
                          dilation_ratio: float = DEFAULT_DILATION_RATIO,
                          nproc: Optional[int] = 1) -> List[dict]:
    """Boundaries of many RLE masks, in order, optionally on a process pool.

    Args:
        rles: Compressed COCO RLEs.
        dilation_ratio: Boundary width as a fraction of the image diagonal.
        nproc: Worker processes; ``None`` uses every core, ``<= 1`` runs in
            this process.

    Returns:
        One boundary RLE per input RLE.
    """
    to_boundary = partial(rle_to_boundary_rle, dilation_ratio=dilation_ratio)
    nproc = resolve_nproc(nproc)
    if nproc <= 1 or len(rles) < 2:
        return [to_boundary(rle) for rle in rles]
    # Several chunks per worker keep the pool busy when mask sizes vary.
    chunksize = max(1, len(rles) // (nproc * 4))
    with multiprocessing.Pool(nproc) as pool:
        return pool.map(to_boundary, rles, chunksize=chunksize)


def attach_boundary_rles(annotation_groups: Sequence[dict],
                         dilation_ratio: float = DEFAULT_DILATION_RATIO,
                         nproc: Optional[int] = 1) -> None:
    """Store each annotation's boundary RLE under ``'boundary'``, once per mask.

    Args:
        annotation_groups: dicts mapping a key (e.g. ``(img_id, cat_id)``) to
            lists of annotations whose ``'segmentation'`` is an RLE, such as
            ``COCOeval._gts`` / ``_dts``.
    """
    anns = [ann for groups in annotation_groups for group in groups.values() for ann in group]
    boundaries = compute_boundary_rles([ann['segmentation'] for ann in anns], dilation_ratio, nproc)
    for ann, boundary in zip(anns, boundaries):
        ann['boundary'] = boundary


def min_mask_boundary_iou(mask_ious: np.ndarray,
                          dts: Sequence[dict],
                          gts: Sequence[dict],
                          keep_mask_iou: Optional[np.ndarray] = None) -> np.ndarray:
    """``min(mask IoU, boundary IoU)`` for every detection/ground-truth pair.

    Args:
        mask_ious: ``(len(dts), len(gts))`` mask IoUs, in the order of ``dts``/``gts``.
        dts, gts: annotations carrying ``'boundary'`` RLEs (:func:`attach_boundary_rles`).
        keep_mask_iou: optional boolean per ground truth (crowd regions) whose
            column keeps the mask IoU.
    """
    boundary_ious = mask_utils.iou([dt['boundary'] for dt in dts], [gt['boundary'] for gt in gts],
                                   [0] * len(gts))
    ious = np.minimum(mask_ious, boundary_ious)
    if keep_mask_iou is not None:
        ious = np.where(np.asarray(keep_mask_iou, bool)[None, :], mask_ious, ious)
    return ious


def check_boundary_settings(owner: str, dilation_ratio, nproc) -> Tuple[float, Optional[int]]:
    """``(dilation_ratio, nproc)`` refused unless meaningful: the boundary width is a
    fraction of the diagonal in ``(0, 1]``, ``nproc`` a positive integer or ``None``."""
    return (check_float(owner, 'dilation_ratio', dilation_ratio, 0, 1,
                        low_open=True), check_int(owner, 'nproc', nproc, low=1, allow_none=True))


def resolve_nproc(nproc: Optional[int]) -> int:
    """Number of worker processes: ``None`` means every core this process may use."""
    if nproc is not None:
        return int(nproc)
    if hasattr(os, 'sched_getaffinity'):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
