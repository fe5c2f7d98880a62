"""A picture of what a refinement changed, readable at a glance.

:func:`draw_refinement` dims the image, tints the pixels the refinement added
and removed, draws the coarse and the refined boundary (and optionally the
ground truth's) and puts a small legend in the emptiest corner. Colours come
from the Okabe-Ito palette, which stays distinguishable with the common forms
of colour blindness.
"""
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

# BGR colours (Okabe-Ito palette).
COLOURS: Dict[str, Tuple[int, int, int]] = {
    'added': (115, 158, 0),  # bluish green
    'removed': (167, 121, 204),  # reddish purple
    'coarse': (66, 228, 240),  # yellow
    'refined': (233, 180, 86),  # sky blue
    'ground truth': (255, 255, 255),  # white
}
TINT_ALPHA = 0.6
DIM = 0.55


def _line_width(shape: Tuple[int, int]) -> int:
    """Boundary thickness: 1 px up to ~400 px images, growing with the image."""
    return max(1, int(round(max(shape) / 400)))


def _boundary(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels within ``width`` of the mask's edge, inside it (image borders are not edges)."""
    mask_u8 = mask.astype(np.uint8)
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    eroded = cv2.erode(mask_u8, kernel, borderType=cv2.BORDER_REPLICATE)
    return (mask_u8 > eroded)


def _legend_entries(has_gt: bool) -> List[str]:
    entries = ['added', 'removed', 'coarse', 'refined']
    return entries + ['ground truth'] if has_gt else entries


def _legend_corner(occupied: np.ndarray, box_h: int, box_w: int) -> Tuple[int, int]:
    """Top-left ``(y, x)`` of the legend box: the corner covering the fewest marked pixels."""
    h, w = occupied.shape
    corners = [(0, 0), (0, w - box_w), (h - box_h, 0), (h - box_h, w - box_w)]
    return min(corners, key=lambda c: occupied[c[0]:c[0] + box_h, c[1]:c[1] + box_w].sum())


def _draw_legend(canvas: np.ndarray, occupied: np.ndarray, entries: List[str]) -> None:
    """Draw the legend in place; skipped when it would cover more than a third of the image."""
    h, w = canvas.shape[:2]
    scale = max(0.3, min(h, w) / 800)
    thickness = max(1, int(round(scale * 1.5)))
    font = cv2.FONT_HERSHEY_SIMPLEX
    (text_w, text_h), baseline = cv2.getTextSize(max(entries, key=len), font, scale, thickness)
    row_h = text_h + baseline + 4
    swatch = text_h + 2
    pad = 4
    box_h = pad * 2 + row_h * len(entries)
    box_w = pad * 3 + swatch + text_w
    if box_h * box_w * 3 > h * w or box_h > h or box_w > w:
        return
    y0, x0 = _legend_corner(occupied, box_h, box_w)
    region = canvas[y0:y0 + box_h, x0:x0 + box_w]
    region[:] = (region * 0.35).astype(np.uint8)
    for row, name in enumerate(entries):
        top = y0 + pad + row * row_h
        cv2.rectangle(
            canvas, (x0 + pad, top + 1), (x0 + pad + swatch, top + 1 + swatch),
            COLOURS[name],
            thickness=-1)
        cv2.putText(canvas, name, (x0 + 2 * pad + swatch, top + text_h + 1), font, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)


def draw_refinement(image: np.ndarray,
                    coarse: np.ndarray,
                    refined: np.ndarray,
                    gt: Optional[np.ndarray] = None,
                    legend: bool = True) -> np.ndarray:
    """Draw the coarse and the refined mask over the image.

    The image is dimmed; pixels the refinement *added* (refined but not coarse)
    are tinted bluish green, pixels it *removed* (coarse but not refined)
    reddish purple; the coarse boundary is drawn in yellow and the refined one
    in sky blue on top of it (where both agree, the refined colour shows); a
    ground-truth boundary, when given, in white underneath both (so white shows
    where neither mask follows the ground truth). A small legend sits in the
    corner with the fewest marked pixels (left out on images too small for it).

    Args:
        image: ``HxWx3 uint8`` **BGR** image (``HxW`` grey is accepted).
        coarse: ``HxW`` mask before refinement (non-zero = foreground).
        refined: ``HxW`` mask after refinement.
        gt: optional ``HxW`` ground-truth mask.
        legend: draw the legend.

    Returns:
        ``HxWx3 uint8`` BGR picture of the image's size.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be HxWx3 (BGR) or HxW, got shape {image.shape}')
    shape = image.shape[:2]
    masks = {'coarse': coarse, 'refined': refined, 'ground truth': gt}
    for name, mask in masks.items():
        if mask is not None and np.asarray(mask).shape != shape:
            raise ValueError(f'{name} mask has shape {np.asarray(mask).shape}, '
                             f'the image {shape}')
    coarse = np.asarray(coarse) != 0
    refined = np.asarray(refined) != 0

    canvas = (image.astype(np.float32) * DIM)
    for name, region in (('added', refined & ~coarse), ('removed', coarse & ~refined)):
        canvas[region] = (1 - TINT_ALPHA) * canvas[region] + TINT_ALPHA * np.array(COLOURS[name])
    canvas = canvas.round().astype(np.uint8)

    width = _line_width(shape)
    occupied = coarse ^ refined
    lines = [('coarse', coarse), ('refined', refined)]
    if gt is not None:  # drawn first: it shows where the others miss it
        lines.insert(0, ('ground truth', np.asarray(gt) != 0))
    for name, mask in lines:
        edge = _boundary(mask, width)
        canvas[edge] = COLOURS[name]
        occupied |= edge
    if legend:
        _draw_legend(canvas, occupied, _legend_entries(gt is not None))
    return canvas
