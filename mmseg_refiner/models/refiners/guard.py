"""The do-no-harm guard (``test_cfg.max_change``): how far a refined mask may move.

A refiner may grow a mask into a region the coarse mask never had (the
"paste into a ball" reports) or carve far into it. The guard bounds that,
after refinement, at the resolution of the refined mask (the image's, or the
model's in ``'whole'`` mode), in two separately selectable parts applied in
this order:

- ``distance=d``: a pixel whose distance to the coarse mask's boundary
  exceeds ``d`` pixels keeps its coarse label. The distance of a pixel is the
  Euclidean distance from its centre to the nearest pixel of the other coarse
  label (a foreground pixel next to background is at 1), so the pixels that
  may change form a band about ``2 d`` wide along the coarse boundary. The
  image border is no boundary: a coarse mask that is all foreground or all
  background keeps every pixel.
- ``drop_new_components=True``: a connected component of the refined mask
  (8-connected) that shares no pixel with the coarse mask is dropped
  (becomes background).

A pixel the guard reverts gets its coarse label as probability (0 or 1), so
a refined mask stays ``prob >= threshold`` and a confidence map shows the
reverted pixels as certain. Off by default (``max_change=None``).
"""
import cv2
import numpy as np
import torch
from numbers import Real
from torch import Tensor
from typing import Mapping, Optional

from ...utils.settings import with_defaults

#: Keys of ``test_cfg.max_change`` and their defaults (each part off).
MAX_CHANGE_DEFAULTS = dict(distance=None, drop_new_components=False)


def check_max_change(cfg: Optional[Mapping],
                     what: str = 'SegRefiner: test_cfg.max_change') -> Optional[dict]:
    """``cfg`` with its defaults filled in (None when off), or a ``ValueError`` naming the key."""
    out = with_defaults(cfg, MAX_CHANGE_DEFAULTS, what,
                        'dict(distance=10, drop_new_components=True)')
    if out is None:
        return None
    distance = out['distance']
    if distance is not None and (isinstance(distance, bool) or not isinstance(distance, Real)
                                 or not 0 < distance < float('inf')):
        raise ValueError(f'{what}.distance must be None or a positive number of pixels, '
                         f'got {distance!r}')
    if not isinstance(out['drop_new_components'], bool):
        raise ValueError(f'{what}.drop_new_components must be True or False, '
                         f'got {out["drop_new_components"]!r}')
    return out


def distance_to_boundary(coarse: np.ndarray) -> np.ndarray:
    """Per pixel the Euclidean distance to the nearest pixel of the other label.

    Args:
        coarse (np.ndarray): ``(H, W)`` bool mask.

    Returns:
        np.ndarray: ``(H, W)`` float32; ``inf`` everywhere when the mask is
        all foreground or all background.
    """
    if coarse.all() or not coarse.any():
        return np.full(coarse.shape, np.inf, np.float32)
    inside = coarse.astype(np.uint8)
    to_background = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    to_foreground = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(coarse, to_background, to_foreground)


def new_components(coarse: np.ndarray, refined: np.ndarray) -> np.ndarray:
    """The pixels of ``refined``'s 8-connected components that share no pixel with ``coarse``."""
    count, labels = cv2.connectedComponents(refined.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(refined.shape, bool)
    touching = np.zeros(count, bool)
    touching[np.unique(labels[coarse & refined])] = True
    touching[0] = True  # the background label
    return ~touching[labels]


def limit_change(coarse: Tensor, prob: Tensor, threshold: float,
                 max_change: Optional[Mapping]) -> Tensor:
    """``prob`` with the coarse label (0 or 1) wherever the guard keeps it (module docstring).

    Args:
        coarse (Tensor): ``(H, W)`` bool coarse mask.
        prob (Tensor): ``(H, W)`` float refined probability; the refined mask
            is ``prob >= threshold``.
        threshold (float): the refined mask's threshold.
        max_change (dict, optional): checked by :func:`check_max_change`;
            None returns ``prob`` itself.

    Returns:
        Tensor: ``(H, W)``, ``prob``'s dtype and device (``prob`` itself when
        no pixel is reverted).
    """
    if max_change is None or (max_change['distance'] is None
                              and not max_change['drop_new_components']):
        return prob
    if coarse.shape != prob.shape or coarse.dim() != 2:
        raise ValueError(f'limit_change: coarse {tuple(coarse.shape)} and prob '
                         f'{tuple(prob.shape)} must be one (H, W) shape')
    coarse_np = coarse.detach().cpu().numpy().astype(bool)
    keep = np.zeros(coarse_np.shape, bool)
    if max_change['distance'] is not None:
        keep |= distance_to_boundary(coarse_np) > max_change['distance']
    if max_change['drop_new_components']:
        refined = (prob >= threshold).cpu().numpy()
        refined = np.where(keep, coarse_np, refined)
        keep |= new_components(coarse_np, refined)
    if not keep.any():
        return prob
    keep_t = torch.from_numpy(keep).to(prob.device)
    return torch.where(keep_t, coarse.to(device=prob.device, dtype=prob.dtype), prob)


def max_change_of(model) -> Optional[dict]:
    """The checked guard settings of a refiner's model (``test_cfg.max_change``), None when off."""
    return check_max_change(getattr(model, 'test_cfg', {}).get('max_change'))
