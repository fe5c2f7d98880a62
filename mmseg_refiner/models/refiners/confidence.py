"""How sure the refiner is of a refined mask: per pixel, and one number per mask.

Per pixel, the confidence is the paper's ``f = |2 p - 1|`` of the refined
probability ``p`` (the quantity that drives each reverse transition): 0 where
``p = 0.5``, 1 where ``p`` is 0 or 1. One number per refined mask, its
**refinement confidence**, is the mean of ``f`` over the mask's boundary band:
the pixels within :data:`CONFIDENCE_BAND` pixels (Chebyshev distance) of a
pixel of the other label, the only place where a refiner is unsure (far
inside or outside an object nearly every ``p`` is 0 or 1). A mask with no
boundary (empty, or everything) takes the mean over all its pixels.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

#: Half-width, in pixels of the refined mask, of the band the refinement confidence averages.
CONFIDENCE_BAND = 3


def pixel_confidence(prob: Tensor) -> Tensor:
    """``|2 p - 1|`` per pixel, in [0, 1]."""
    return (2 * prob.float() - 1).abs().clamp(0, 1)


def boundary_band(mask: Tensor, width: int = CONFIDENCE_BAND) -> Tensor:
    """``(H, W)`` bool: the pixels within ``width`` pixels (Chebyshev) of the other label.

    The image border is no boundary (outside pixels take no label).
    """
    kernel = 2 * width + 1
    grown = F.max_pool2d(mask[None, None].float(), kernel, stride=1, padding=width)[0, 0]
    shrunk = -F.max_pool2d(-mask[None, None].float(), kernel, stride=1, padding=width)[0, 0]
    return grown != shrunk


def refinement_confidence(prob: Tensor,
                          threshold: float = 0.5,
                          width: int = CONFIDENCE_BAND) -> Tensor:
    """The mean :func:`pixel_confidence` of ``(H, W)`` ``prob`` in the band of its mask.

    The mask is ``prob >= threshold``; the band is :func:`boundary_band` of it.

    Returns:
        Tensor: a float32 scalar in [0, 1] on ``prob``'s device.
    """
    confidence = pixel_confidence(prob)
    band = boundary_band(prob >= threshold, width)
    band_mean = (confidence * band).sum() / band.sum().clamp(min=1)
    return torch.where(band.any(), band_mean, confidence.mean())
