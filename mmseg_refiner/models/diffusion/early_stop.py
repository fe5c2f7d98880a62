"""Stopping the reverse diffusion of a mask once it has settled (``test_cfg.early_stop``).

The paper runs every reverse step for every mask. Many masks stop changing
well before the last step: the network's thresholded prediction is (nearly)
the same at two consecutive steps. With ``early_stop=dict(max_changed=f)`` a
mask leaves the batch after a step where at most a fraction ``f`` of its
pixels (at the model resolution) changed their predicted label (``prob >=
0.5``) since the previous step; its output is the prediction of that step.
``f = 0`` waits until not one pixel changes, which on the demo model never
happened before the last step (a few pixels near 0.5 flicker); the default
``f = 0.005`` (half a percent) ran 2.44 of 6 steps per mask on average on the
held-out set, each mask within 0.003 IoU of the full run (README, "Trusting
and steering the refinement"). Masks are judged one by one, so a batch runs
its next step only on the masks still changing. Off by default
(``early_stop=None``): every step runs, as in the paper.

Which pixels changed is judged on the network's prediction, not on the mask
state of the next step: that state is drawn afresh at every step (a pixel
not selected goes back to its coarse value), so it flickers even when the
prediction no longer moves.
"""
import torch
from numbers import Real
from typing import Mapping, Optional, Tuple

from ...utils.settings import with_defaults

#: Keys of ``test_cfg.early_stop`` and their defaults.
EARLY_STOP_DEFAULTS = dict(max_changed=0.005)


def check_early_stop(cfg: Optional[Mapping],
                     what: str = 'SegRefiner: test_cfg.early_stop') -> Optional[dict]:
    """``cfg`` with its defaults filled in (None when off), or a ``ValueError`` naming the key."""
    out = with_defaults(cfg, EARLY_STOP_DEFAULTS, what, 'dict(max_changed=0.005)')
    if out is None:
        return None
    value = out['max_changed']
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < 1:
        raise ValueError(f'{what}.max_changed must be a fraction of pixels in [0, 1), '
                         f'got {value!r}')
    out['max_changed'] = float(value)
    return out


def settled_rows(previous: torch.Tensor, current: torch.Tensor, max_changed: float) -> torch.Tensor:
    """Which rows of a batch have settled between two steps.

    Args:
        previous (Tensor): (N, 1, H, W) bool prediction of the previous step.
        current (Tensor): (N, 1, H, W) bool prediction of this step.
        max_changed (float): the largest fraction of a row's pixels that may
            differ for the row to count as settled.

    Returns:
        Tensor: (N,) bool.
    """
    changed = (previous != current).flatten(1).float().mean(dim=1)
    return changed <= max_changed


def still_moving(rows: Optional[torch.Tensor], previous: Optional[torch.Tensor],
                 current: torch.Tensor,
                 max_changed: float) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """After a step, the rows that sample on and their predictions (the sampling loop's test).

    Args:
        rows (Tensor, optional): indices of the rows that ran this step; None:
            all of them.
        previous (Tensor, optional): (len(rows), 1, H, W) bool prediction of
            these rows at the step before; None after the first step.
        current (Tensor): (len(rows), 1, H, W) bool prediction of this step.
        max_changed (float): as :func:`settled_rows`.

    Returns:
        tuple: the rows still moving (``rows`` itself when none settled; an
        empty tensor when all did) and their ``current`` predictions.
    """
    if previous is None:
        return rows, current
    moving = ~settled_rows(previous, current, max_changed)
    if bool(moving.all()):
        return rows, current
    if rows is None:
        rows = torch.arange(len(current), device=current.device)
    return rows[moving], current[moving]
