"""IoU and mean Boundary Accuracy (mBA) of high-resolution binary masks.

mBA follows CascadePSP (Cheng et al., CVPR 2020): for radii
``r_i = min_radius + int((R - min_radius) / n * i)``, ``i = 0..n-1`` with
``R = (w + h) / radius_divisor`` (``n = 5``, ``min_radius = 1``,
``radius_divisor = 300``), the band is the morphological gradient of the
ground truth with an elliptical ``(2r+1) x (2r+1)`` kernel; the accuracy is the
fraction of band pixels where prediction and ground truth agree. mBA of an
image is the mean over the radii; of a dataset, the mean over images.

Dataset IoU is total intersection over total union (not a mean of per-image
IoUs). Per-image records (see :func:`mask_record`) keep only counts and
scalars, so metrics stay small when collected across processes.
"""
import cv2
import math
import numpy as np
from typing import Dict, Iterable, List, Optional, Tuple

from mmseg_refiner.utils.settings import check_float, check_int

NUM_RADII = 5
MIN_RADIUS = 1
RADIUS_DIVISOR = 300


def check_mba_settings(
    owner: str,
    num_radii,
    min_radius,
    radius_divisor,
    names: Tuple[str, str, str] = ('num_radii', 'min_radius', 'radius_divisor')
) -> dict:
    """The mBA settings as ``mba_kwargs``, refused unless meaningful (``num_radii >= 1``,
    ``min_radius >= 1``, ``radius_divisor > 0``), naming ``owner`` and the key (as
    ``names`` call them)."""
    return dict(
        num_radii=check_int(owner, names[0], num_radii, low=1),
        min_radius=check_int(owner, names[1], min_radius, low=1),
        radius_divisor=check_float(owner, names[2], radius_divisor, low=0, low_open=True))


def mask_iou_counts(pred: np.ndarray, gt: np.ndarray) -> Tuple[int, int]:
    """``(intersection, union)`` pixel counts of two same-size binary masks."""
    pred, gt = _as_bool_pair(pred, gt)
    return int(np.count_nonzero(pred & gt)), int(np.count_nonzero(pred | gt))


def mba_radii(height: int,
              width: int,
              num_radii: int = NUM_RADII,
              min_radius: int = MIN_RADIUS,
              radius_divisor: float = RADIUS_DIVISOR) -> List[int]:
    """CascadePSP's band radii for an image of the given size."""
    max_radius = (width + height) / radius_divisor
    return [min_radius + int((max_radius - min_radius) / num_radii * i) for i in range(num_radii)]


def boundary_accuracy(pred: np.ndarray,
                      gt: np.ndarray,
                      num_radii: int = NUM_RADII,
                      min_radius: int = MIN_RADIUS,
                      radius_divisor: float = RADIUS_DIVISOR) -> float:
    """Mean boundary accuracy (mBA) of one prediction.

    Args:
        pred: ``HxW`` predicted binary mask.
        gt: ``HxW`` ground-truth binary mask.
        num_radii: Number of band radii.
        min_radius: Smallest radius.
        radius_divisor: ``R = (w + h) / radius_divisor`` is the radius scale.

    Returns:
        Accuracy averaged over the radii, or NaN when the ground truth has no
        boundary (all foreground or all background), where it is undefined.
    """
    pred, gt = _as_bool_pair(pred, gt)
    height, width = gt.shape
    gt_u8 = gt.astype(np.uint8)
    accuracies = []
    for radius in mba_radii(height, width, num_radii, min_radius, radius_divisor):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        band = cv2.morphologyEx(gt_u8, cv2.MORPH_GRADIENT, kernel) > 0
        num_band = np.count_nonzero(band)
        if num_band == 0:
            return math.nan
        accuracies.append(np.count_nonzero(pred[band] == gt[band]) / num_band)
    return float(np.mean(accuracies))


def mask_record(pred: np.ndarray,
                gt: np.ndarray,
                coarse: Optional[np.ndarray] = None,
                **mba_kwargs) -> Dict[str, float]:
    """Small per-image record: IoU counts and mBA, of ``pred`` and of ``coarse``.

    Args:
        pred: ``HxW`` refined (or any predicted) mask.
        gt: ``HxW`` ground truth.
        coarse: Optional ``HxW`` coarse mask, reported as ``coarse_*``.
        **mba_kwargs: ``num_radii``, ``min_radius``, ``radius_divisor``.

    Returns:
        ``intersection``, ``union``, ``mba`` (and ``coarse_intersection``,
        ``coarse_union``, ``coarse_mba``).
    """
    record = {}
    for name, mask in (('', pred), ('coarse_', coarse)):
        if mask is None:
            continue
        intersection, union = mask_iou_counts(mask, gt)
        record[f'{name}intersection'] = intersection
        record[f'{name}union'] = union
        record[f'{name}mba'] = boundary_accuracy(mask, gt, **mba_kwargs)
    return record


def summarize_mask_records(records: Iterable[Dict[str, float]]) -> Dict[str, float]:
    """Dataset figures from per-image records.

    ``iou`` = total intersection / total union (1.0 if every mask and ground
    truth is empty); ``mba`` = mean of the per-image mBAs that are defined.
    ``coarse_iou`` / ``coarse_mba`` likewise over the records that have them.

    Returns:
        ``iou``, ``mba`` and, when coarse masks were seen, ``coarse_iou``,
        ``coarse_mba`` (NaN for an mBA no image defines).
    """
    records = list(records)
    summary = {}
    for name in ('', 'coarse_'):
        rows = [r for r in records if f'{name}union' in r]
        if not rows:
            continue
        union = sum(r[f'{name}union'] for r in rows)
        intersection = sum(r[f'{name}intersection'] for r in rows)
        summary[f'{name}iou'] = intersection / union if union else 1.0
        mbas = [r[f'{name}mba'] for r in rows if not math.isnan(r[f'{name}mba'])]
        summary[f'{name}mba'] = float(np.mean(mbas)) if mbas else math.nan
    return summary


def _as_bool_pair(pred: np.ndarray, gt: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(f'expected two HxW masks of the same size, got {pred.shape} '
                         f'and {gt.shape}')
    return pred.astype(bool), gt.astype(bool)
