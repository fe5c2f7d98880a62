"""Before / after pictures of a refinement, readable at a glance.

:func:`draw_refinement` puts panels side by side: the image, the coarse
mask(s), the refined mask(s) and, when given, the ground truth. In every mask
panel the object's interior is shaded over the (slightly dimmed) image and its
boundary is drawn on top; each panel has its caption above it, outside the
image (with the IoU against the ground truth when there is one). Small images
are enlarged (nearest neighbour, so a boundary stays a crisp step) and very
large ones reduced, so every panel is between :data:`MIN_PANEL_SIDE` and
:data:`MAX_PANEL_SIDE` pixels on its longer side; a high-resolution image reduced
by more than half gets a second row, the same panels for a full-resolution
detail where the refinement changed the most. Colours come from the
Okabe-Ito palette, which stays distinguishable with the common forms of
colour blindness; with several instances each has its own colour, the same in
every panel.
"""
import cv2
import math
import numpy as np
from typing import List, Optional, Sequence, Tuple

# BGR (Okabe-Ito palette).
PANEL_COLOURS = {
    'coarse': (0, 159, 230),  # orange
    'refined': (233, 180, 86),  # sky blue
    'ground truth': (115, 158, 0),  # bluish green
}
#: The changes panel: pixels the refinement added to the masks and removed from them.
CHANGE_COLOURS = {
    'added': (178, 114, 0),  # blue
    'removed': (0, 94, 213),  # vermillion
}
INSTANCE_COLOURS: Tuple[Tuple[int, int, int], ...] = (
    (233, 180, 86),  # sky blue
    (0, 159, 230),  # orange
    (115, 158, 0),  # bluish green
    (66, 228, 240),  # yellow
    (178, 114, 0),  # blue
    (0, 94, 213),  # vermillion
    (167, 121, 204),  # reddish purple
)
SHADE_ALPHA = 0.45
DIM = 0.8
MIN_PANEL_SIDE = 384
MAX_PANEL_SIDE = 800
#: Images reduced by more than this get a second row: a full-resolution detail of
#: :data:`DETAIL_SIDE` pixels where the refinement changed the most.
DETAIL_BELOW_SCALE = 0.5
DETAIL_SIDE = 400
GAP = 8
BACKGROUND = (255, 255, 255)
TEXT = (0, 0, 0)


def panel_scale(shape: Tuple[int, int]) -> float:
    """Scale of a panel: integer enlargement up to :data:`MIN_PANEL_SIDE`, reduction to
    :data:`MAX_PANEL_SIDE` (of the longer side)."""
    longest = max(shape)
    if longest < MIN_PANEL_SIDE:
        return float(math.ceil(MIN_PANEL_SIDE / longest))
    return min(1.0, MAX_PANEL_SIDE / longest)


def _as_mask_stack(masks, shape: Tuple[int, int], name: str) -> np.ndarray:
    """``(N, H, W) bool`` from one ``HxW`` mask or an ``NxHxW`` stack (non-zero = foreground)."""
    masks = np.asarray(masks)
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3 or masks.shape[1:] != tuple(shape):
        raise ValueError(f'{name} masks have shape {masks.shape}, the image {tuple(shape)}')
    return masks != 0


def _resize(array: np.ndarray, size: Tuple[int, int], nearest: bool) -> np.ndarray:
    """``array`` (HxW[xC]) resized to ``size`` = (H, W)."""
    if array.shape[:2] == tuple(size):
        return array
    interpolation = cv2.INTER_NEAREST if nearest else (
        cv2.INTER_AREA if size[0] < array.shape[0] else cv2.INTER_LINEAR)
    return cv2.resize(array, (size[1], size[0]), interpolation=interpolation)


def _boundary(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels within ``width`` of the mask's edge, inside it (image borders are not edges)."""
    mask_u8 = mask.astype(np.uint8)
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return mask_u8 > cv2.erode(mask_u8, kernel, borderType=cv2.BORDER_REPLICATE)


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of the union of ``pred`` (N, H, W) and of ``gt`` (M, H, W); 1 when both are empty."""
    pred_fg, gt_fg = pred.any(axis=0), gt.any(axis=0)
    union = np.logical_or(pred_fg, gt_fg).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred_fg, gt_fg).sum() / union)


def _mask_panel(image: np.ndarray, masks: np.ndarray, colours: Sequence[Tuple[int, int, int]],
                width: int) -> np.ndarray:
    """The image with every mask's interior shaded and its boundary drawn."""
    canvas = image.astype(np.float32) * DIM
    for mask, colour in zip(masks, colours):
        canvas[mask] = (1 - SHADE_ALPHA) * canvas[mask] + SHADE_ALPHA * np.array(colour)
    canvas = canvas.round().astype(np.uint8)
    for mask, colour in zip(masks, colours):
        canvas[_boundary(mask, width)] = colour
    return canvas


def probability_heat_map(prob: np.ndarray) -> np.ndarray:
    """``HxW`` probabilities in [0, 1] as a BGR heat map (viridis: 0 dark purple, 1 yellow)."""
    values = np.rint(np.clip(np.asarray(prob, np.float64), 0, 1) * 255).astype(np.uint8)
    return cv2.applyColorMap(values, cv2.COLORMAP_VIRIDIS)


def _captioned(panel: np.ndarray, caption: str) -> np.ndarray:
    """``panel`` under a white strip holding ``caption``, in smaller type where it is
    longer than the panel is wide (the strip's height is the same for every caption)."""
    width = panel.shape[1]
    scale = max(0.5, min(1.0, width / 700))
    thickness = 1 if scale < 0.8 else 2
    font = cv2.FONT_HERSHEY_SIMPLEX
    (_, text_h), baseline = cv2.getTextSize('Ag', font, scale, thickness)
    strip = np.full((text_h + baseline + 12, width, 3), BACKGROUND, np.uint8)
    (text_w, _), _ = cv2.getTextSize(caption, font, scale, thickness)
    if text_w > width - 8:
        scale *= max(0.3, (width - 8) / text_w)
        thickness = 1
        (text_w, _), _ = cv2.getTextSize(caption, font, scale, thickness)
    cv2.putText(strip, caption, (max(0, (width - text_w) // 2), text_h + 6), font, scale, TEXT,
                thickness, cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def detail_window(changed: np.ndarray, side: int) -> Tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of the ``side`` x ``side`` window (clipped to the image) holding
    the most ``changed`` pixels."""
    height, width = changed.shape
    win_h, win_w = min(side, height), min(side, width)
    integral = cv2.integral(changed.astype(np.uint8))
    sums = (
        integral[win_h:, win_w:] - integral[:-win_h, win_w:] - integral[win_h:, :-win_w] +
        integral[:-win_h, :-win_w])
    y0, x0 = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(y0), int(y0) + win_h, int(x0), int(x0) + win_w


def _stacked(rows: List[np.ndarray]) -> np.ndarray:
    width = max(row.shape[1] for row in rows)
    padded = []
    for index, row in enumerate(rows):
        if row.shape[1] < width:
            pad = np.full((row.shape[0], width - row.shape[1], 3), BACKGROUND, np.uint8)
            row = np.concatenate([row, pad], axis=1)
        if index:
            padded.append(np.full((GAP, width, 3), BACKGROUND, np.uint8))
        padded.append(row)
    return np.concatenate(padded, axis=0)


def _side_by_side(panels: List[np.ndarray]) -> np.ndarray:
    height = max(panel.shape[0] for panel in panels)
    gap = np.full((height, GAP, 3), BACKGROUND, np.uint8)
    row = []
    for index, panel in enumerate(panels):
        if panel.shape[0] < height:
            pad = np.full((height - panel.shape[0], panel.shape[1], 3), BACKGROUND, np.uint8)
            panel = np.concatenate([panel, pad], axis=0)
        row.extend([gap, panel] if index else [panel])
    return np.concatenate(row, axis=1)


def mean_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean over ``i`` of the IoU of ``pred[i]`` and ``gt[i]`` (pairs empty in both left out)."""
    ious = [mask_iou(p[None], g[None]) for p, g in zip(pred, gt) if p.any() or g.any()]
    return float(np.mean(ious)) if ious else 1.0


def _changes(coarse: np.ndarray, refined: np.ndarray, class_colours: Optional[list],
             background: Optional[int]) -> Tuple[dict, str]:
    """``{colour: pixels}`` of what the refinement changed, and the caption counting them.

    Masks (instances): pixels added to them (blue) and removed from them
    (vermillion). Classes of a label map: with a ``background`` class, pixels
    it lost to a class are added (blue), pixels it gained removed (vermillion),
    as for one mask; pixels moved between two other classes (every change,
    without a background) are relabelled, in their new class's colour.
    """
    if class_colours is None:
        before, after = coarse.any(axis=0), refined.any(axis=0)
        added, removed = after & ~before, before & ~after
        relabelled = None
    else:
        changed = (coarse != refined).any(axis=0)
        none = np.zeros_like(changed)
        added = changed & coarse[background] if background is not None else none
        removed = changed & refined[background] if background is not None else none
        relabelled = changed & ~added & ~removed
    painted = {CHANGE_COLOURS['added']: added, CHANGE_COLOURS['removed']: removed}
    parts = []
    if class_colours is None or background is not None:
        parts.append(f'+{int(added.sum())} px (blue) -{int(removed.sum())} px (red)')
    if relabelled is not None and (background is None or relabelled.any()):
        parts.append(f'relabelled {int(relabelled.sum())} px (new class colour)')
        for index, colour in enumerate(class_colours[:len(refined)]):
            painted.setdefault(colour, np.zeros_like(relabelled))
            painted[colour] = painted[colour] | (refined[index] & relabelled)
    return painted, 'changes: ' + ', '.join(parts)


def _changes_panel(shown: np.ndarray, coarse: np.ndarray, refined: np.ndarray, size: Tuple[int,
                                                                                           int],
                   class_colours: Optional[list], background: Optional[int]) -> np.ndarray:
    """The dimmed image with the changed pixels painted (:func:`_changes`) under a caption
    counting them."""
    canvas = (shown.astype(np.float32) * DIM * 0.6).round().astype(np.uint8)
    painted, caption = _changes(coarse, refined, class_colours, background)
    for colour, pixels in painted.items():
        canvas[_resize(pixels.astype(np.uint8), size, nearest=True) != 0] = colour
    return _captioned(canvas, caption)


def _background_index(names: Optional[Sequence[str]]) -> Optional[int]:
    """The index of the class named ``background`` (any case) in ``names``, if any."""
    lowered = [str(name).lower() for name in names or ()]
    return lowered.index('background') if 'background' in lowered else None


def _legend(names: Sequence[str], colours: Sequence[Tuple[int, int, int]], stacks: dict,
            width: int) -> np.ndarray:
    """A strip naming the colour of every mask present in any panel."""
    present = [
        i for i in range(len(names)) if any(m[i].any() for m in stacks.values() if i < len(m))
    ]
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1
    (_, text_h), baseline = cv2.getTextSize('Ag', font, scale, thickness)
    line_h = text_h + baseline + 10
    lines, x, y = [[]], 8, 0
    for i in present:
        (text_w, _), _ = cv2.getTextSize(str(names[i]), font, scale, thickness)
        item_w = text_h + 6 + text_w + 16
        if x + item_w > width and lines[-1]:
            lines.append([])
            x = 8
        lines[-1].append((i, x))
        x += item_w
    strip = np.full((line_h * len(lines) + 4, width, 3), BACKGROUND, np.uint8)
    for row, items in enumerate(lines):
        y = row * line_h + 4
        for i, x in items:
            colour = tuple(int(c) for c in colours[i % len(colours)])
            cv2.rectangle(strip, (x, y), (x + text_h, y + text_h), colour, -1)
            cv2.putText(strip, str(names[i]), (x + text_h + 6, y + text_h), font, scale, TEXT,
                        thickness, cv2.LINE_AA)
    return strip


def draw_refinement(image: np.ndarray,
                    coarse,
                    refined,
                    gt=None,
                    titles: Optional[Sequence[str]] = None,
                    paired_gt: bool = False,
                    prob=None,
                    names: Optional[Sequence[str]] = None,
                    changes: bool = False,
                    legend: bool = True) -> np.ndarray:
    """Side-by-side panels: image | coarse | refined (| ground truth) (| probability)
    (| changes).

    Args:
        image: ``HxWx3 uint8`` **BGR** image (``HxW`` grey is accepted).
        coarse: ``HxW`` mask, or ``NxHxW`` masks (instances, or the classes of
            a label map), before refinement (non-zero = foreground).
        refined: the same after refinement (as many masks as ``coarse``).
        gt: optional ground truth, ``HxW`` or ``MxHxW``.
        titles: optional captions for the mask panels, replacing
            ``coarse`` / ``refined`` / ``ground truth``.
        paired_gt: ``gt[i]`` is the truth of mask ``i`` (the classes of a label
            map): the ground truth takes the masks' colours, each caption counts
            the classes present in its panel and gives the mean IoU over the
            pairs; otherwise (instances) the IoU of the masks' union with the
            ground truth's.
        prob: optional refined probability, ``HxW`` or ``NxHxW`` (the
            highest over the masks is shown), drawn as a panel, a heat
            map (:func:`probability_heat_map`: 0 dark purple, 0.5 teal, 1
            yellow), where an unsure pixel stands out between the two ends.
        names: optional name of each mask (a class name): a legend under the
            panels gives the colour of each name present in any panel.
        changes: add a last panel of what the refinement changed: pixels it
            added to the masks (blue) and removed from them (vermillion). For
            paired classes (a label map) whose ``names`` include
            ``'background'`` (any case), added and removed mean to and from the
            other classes, as for one mask; a pixel moved between two other
            classes (every change, without a background) is relabelled, drawn
            in its new class's colour. Its caption counts the pixels.
        legend: draw the legend of ``names`` (off for the detail row, which
            shares the first row's).

    Returns:
        ``uint8`` BGR picture, ``3`` to ``6`` panels wide, each panel the image
        scaled by :func:`panel_scale` under its caption (and, for an image reduced
        below :data:`DETAIL_BELOW_SCALE`, a second row of a full-resolution
        detail, see :func:`detail_window`). With one mask each
        panel has its own colour (coarse orange, refined sky blue, ground
        truth bluish green); with several, mask ``i`` has the same colour in
        every panel (an unpaired ground truth is bluish green).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be HxWx3 (BGR) or HxW, got shape {image.shape}')
    shape = image.shape[:2]
    stacks = {
        'coarse': _as_mask_stack(coarse, shape, 'coarse'),
        'refined': _as_mask_stack(refined, shape, 'refined')
    }
    count = stacks['coarse'].shape[0]
    if count != stacks['refined'].shape[0]:
        raise ValueError(f'{count} coarse but {stacks["refined"].shape[0]} refined masks')
    if gt is not None:
        stacks['ground truth'] = _as_mask_stack(gt, shape, 'ground truth')
        if paired_gt and stacks['ground truth'].shape[0] != count:
            raise ValueError(f'paired_gt: {stacks["ground truth"].shape[0]} ground-truth '
                             f'masks for {count} masks')
    titles = list(titles) if titles is not None else list(stacks)

    scale = panel_scale(shape)
    size = (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))
    shown = _resize(np.ascontiguousarray(image), size, nearest=scale > 1)
    width = max(2, round(max(size) / 250))
    indexed = [INSTANCE_COLOURS[i % len(INSTANCE_COLOURS)] for i in range(count)]
    panels = [_captioned(shown, 'image')]
    for (name, masks), title in zip(stacks.items(), titles):
        scaled = np.stack([_resize(m.astype(np.uint8), size, nearest=True) != 0 for m in masks]) \
            if len(masks) else np.zeros((0, *size), bool)
        if count == 1 and not paired_gt:
            colours = [PANEL_COLOURS[name]] * len(masks)
        elif name == 'ground truth' and not paired_gt:
            colours = [PANEL_COLOURS[name]] * len(masks)
        else:
            colours = indexed
        if paired_gt:
            present = int(sum(mask.any() for mask in masks))
            caption = f'{title} ({present} {"class" if present == 1 else "classes"})'
        else:
            caption = title if count == 1 else f'{title} ({len(masks)})'
        if gt is not None and name != 'ground truth':
            truth = stacks['ground truth']
            caption += (f'  mIoU {mean_iou(masks, truth):.3f}'
                        if paired_gt else f'  IoU {mask_iou(masks, truth):.3f}')
        panels.append(_captioned(_mask_panel(shown, scaled, colours, width), caption))
    if prob is not None:
        prob = np.asarray(prob, np.float32)
        prob = prob.max(axis=0) if prob.ndim == 3 else prob
        if prob.shape != tuple(shape):
            raise ValueError(f'prob has shape {prob.shape}, the image {tuple(shape)}')
        heat = _resize(probability_heat_map(prob), size, nearest=True)
        panels.append(_captioned(heat, 'probability (0 purple, 1 yellow)'))
    if changes:
        panels.append(
            _changes_panel(shown, stacks['coarse'], stacks['refined'], size,
                           indexed if paired_gt else None,
                           _background_index(names) if paired_gt else None))
    picture = _side_by_side(panels)
    if names is not None and legend:
        picture = _stacked([picture, _legend(names, indexed, stacks, picture.shape[1])])
    if scale >= DETAIL_BELOW_SCALE:
        return picture
    changed = (stacks['coarse'] != stacks['refined']).any(axis=0)
    y0, y1, x0, x1 = detail_window(changed, DETAIL_SIDE)
    crop = {name: masks[:, y0:y1, x0:x1] for name, masks in stacks.items()}
    detail = draw_refinement(
        image[y0:y1, x0:x1],
        crop['coarse'],
        crop['refined'],
        crop.get('ground truth'),
        titles=[f'{title}, detail at full resolution' for title in titles],
        paired_gt=paired_gt,
        prob=None if prob is None else prob[y0:y1, x0:x1],
        names=names,
        changes=changes,
        legend=False)
    return _stacked([picture, detail])
