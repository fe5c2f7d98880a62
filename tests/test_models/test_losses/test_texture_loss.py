"""TextureLoss against hand-derived values and an independent numpy reference."""
import math
import numpy as np
import pytest
import torch

from mmseg_refiner.models.losses import TextureLoss
from mmseg_refiner.registry import MODELS

EPS = 1e-4


def _magnitudes_of_constant_3x3(a):
    """Gradient magnitudes of a 3x3 map of constant ``a``, derived by hand.

    3x3 average pooling with zero padding (divisor always 9): corners 4a/9,
    edges 6a/9, centre a. Sobel/4 at a corner: gx = gy = -(2*6a/9 + a)/4 = -7a/12;
    at a top edge: gx = 0 (symmetric), gy = -(6a/9 + 2a + 6a/9)/4 = -5a/6; at
    the centre both vanish.
    """
    corner = math.sqrt(2 * (7 * a / 12)**2 + EPS)
    edge = math.sqrt((5 * a / 6)**2 + EPS)
    centre = math.sqrt(EPS)
    return corner, edge, centre


def test_texture_loss_on_constant_maps_matches_hand_derivation():
    logits = torch.zeros(1, 1, 3, 3)  # sigmoid = 0.5 everywhere
    target = torch.ones(1, 1, 3, 3)
    pred_c, pred_e, pred_m = _magnitudes_of_constant_3x3(0.5)
    gt_c, gt_e, gt_m = _magnitudes_of_constant_3x3(1.0)
    expected = (4 * abs(pred_c - gt_c) + 4 * abs(pred_e - gt_e) + abs(pred_m - gt_m)) / 9
    assert TextureLoss(loss_weight=1.0)(logits, target).item() == pytest.approx(expected, rel=1e-5)
    assert TextureLoss()(logits, target).item() == pytest.approx(5 * expected, rel=1e-5)


def _reference_magnitude(image):
    """Loop-based numpy version of the paper's definition, for one HxW map."""
    height, width = image.shape
    padded = np.pad(image, 1)
    pooled = np.array([[padded[i:i + 3, j:j + 3].sum() / 9 for j in range(width)]
                       for i in range(height)])
    kx = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]]) / 4
    ky = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]]) / 4
    padded = np.pad(pooled, 1)
    gx = np.array([[(padded[i:i + 3, j:j + 3] * kx).sum() for j in range(width)]
                   for i in range(height)])
    gy = np.array([[(padded[i:i + 3, j:j + 3] * ky).sum() for j in range(width)]
                   for i in range(height)])
    return np.sqrt(gx**2 + gy**2 + EPS)


def test_texture_loss_matches_numpy_reference_on_random_maps():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 1, 5, 7)) * 3
    target = (rng.random((2, 1, 5, 7)) < 0.5).astype(np.float64)
    prob = 1 / (1 + np.exp(-logits))
    expected = np.mean([
        np.abs(_reference_magnitude(prob[n, 0]) - _reference_magnitude(target[n, 0]))
        for n in range(2)
    ])
    loss = TextureLoss(loss_weight=2.0)(torch.tensor(logits), torch.tensor(target))
    assert loss.item() == pytest.approx(2.0 * expected, rel=1e-9)


def test_texture_loss_is_zero_for_a_perfect_prediction_and_has_gradients():
    target = torch.zeros(1, 1, 6, 6)
    target[..., 2:5, 1:4] = 1
    perfect = (target * 2 - 1) * 30  # sigmoid saturates to the target
    assert TextureLoss()(perfect, target).item() == pytest.approx(0.0, abs=1e-6)
    logits = torch.zeros(1, 1, 6, 6, requires_grad=True)
    TextureLoss()(logits, target).backward()
    assert logits.grad.abs().sum() > 0


def test_texture_loss_is_registered_and_checks_shapes():
    loss = MODELS.build(dict(type='TextureLoss', loss_weight=3.0))
    assert isinstance(loss, TextureLoss) and loss.loss_weight == 3.0
    with pytest.raises(ValueError, match='TextureLoss'):
        loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
