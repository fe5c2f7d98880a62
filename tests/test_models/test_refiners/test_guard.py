"""The do-no-harm guard (test_cfg.max_change) on hand-built cases, and in every mode."""
import numpy as np
import pytest
import torch

from mmseg_refiner.models.refiners import GlobalLocalRefiner, InstanceRefiner
from mmseg_refiner.models.refiners.guard import (check_max_change, distance_to_boundary,
                                                 limit_change, new_components)

GUARDS = dict(
    distance=dict(distance=3.0, drop_new_components=False),
    components=dict(distance=None, drop_new_components=True))


def _brute_force_distance(coarse: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pixel to the nearest pixel of the other label, pair by pair."""
    ys, xs = np.mgrid[:coarse.shape[0], :coarse.shape[1]]
    out = np.zeros(coarse.shape)
    for y, x in zip(ys.ravel(), xs.ravel()):
        other = coarse != coarse[y, x]
        out[y, x] = np.sqrt((ys[other] - y)**2 + (xs[other] - x)**2).min()
    return out


def test_distance_to_boundary_hand_computed():
    coarse = np.zeros((1, 6), bool)
    coarse[0, 2:] = True
    # the image border is no boundary: the last pixel is 4 from the background
    assert distance_to_boundary(coarse).tolist() == [[2, 1, 1, 2, 3, 4]]
    assert np.isinf(distance_to_boundary(np.ones((3, 3), bool))).all()
    assert np.isinf(distance_to_boundary(np.zeros((3, 3), bool))).all()


def test_distance_to_boundary_is_euclidean():
    rng = np.random.default_rng(0)
    coarse = np.zeros((15, 17), bool)
    coarse[3:11, 4:12] = True
    coarse[rng.random(coarse.shape) < 0.05] ^= True
    np.testing.assert_allclose(
        distance_to_boundary(coarse), _brute_force_distance(coarse), atol=1e-4)


def _square_case():
    """A coarse square; a refinement that grows an arm out of it and pastes a far blob."""
    coarse = torch.zeros(24, 24, dtype=torch.bool)
    coarse[4:12, 4:12] = True
    prob = coarse.float() * 0.9
    prob[6:8, 12:20] = 0.8  # an arm, attached to the square, reaching 8 px out
    prob[18:22, 18:22] = 0.7  # a blob far from the square
    prob[14, 5] = 0.6  # a near speck, 3 px below the square, not touching it
    prob[7, 7] = 0.2  # a hole carved 4 px deep into the square
    return coarse, prob


def test_distance_keeps_the_coarse_label_far_from_the_boundary():
    coarse, prob = _square_case()
    out = limit_change(coarse, prob, 0.5, check_max_change(dict(distance=3)))
    expected = prob.clone()
    far = torch.from_numpy(distance_to_boundary(coarse.numpy()) > 3)
    expected[far] = coarse[far].float()
    assert torch.equal(out, expected)
    refined = out >= 0.5
    assert refined[6:8, 12:15].all() and not refined[6:8, 15:20].any()  # the arm, cut at 3 px
    assert not refined[18:22, 18:22].any()  # the far blob is gone
    assert refined[14, 5]  # the speck is 3 px away: allowed
    assert refined[7, 7] and out[7, 7] == 1.0  # 4 px deep: keeps its coarse label


def test_drop_new_components_drops_what_touches_no_coarse_pixel():
    coarse, prob = _square_case()
    out = limit_change(coarse, prob, 0.5, check_max_change(dict(drop_new_components=True)))
    expected = prob.clone()
    expected[18:22, 18:22] = 0
    expected[14, 5] = 0
    assert torch.equal(out, expected)  # the arm and the hole stay: they touch the square


def test_both_parts_and_diagonal_contact():
    coarse, prob = _square_case()
    prob[12, 12] = 0.9  # touches the square's corner diagonally: the same 8-connected component
    out = limit_change(coarse, prob, 0.5,
                       check_max_change(dict(distance=3, drop_new_components=True)))
    refined = out >= 0.5
    assert refined[12, 12] and not refined[14, 5] and not refined[18:22, 18:22].any()
    assert new_components(coarse.numpy(), (prob >= 0.5).numpy())[12, 12] == False  # noqa: E712


def test_off_returns_the_probability_itself():
    coarse, prob = _square_case()
    assert limit_change(coarse, prob, 0.5, None) is prob
    assert limit_change(coarse, prob, 0.5, check_max_change({})) is prob


@pytest.mark.parametrize('cfg, message', [
    (dict(distance=0), r'max_change\.distance must be None or a positive number'),
    (dict(distance=-2), r'max_change\.distance'),
    (dict(distance=True), r'max_change\.distance'),
    (dict(distance=float('inf')), r'max_change\.distance'),
    (dict(distance='5'), r'max_change\.distance'),
    (dict(drop_new_components=1), r'max_change\.drop_new_components must be True or False'),
    (dict(distanse=3), r"max_change: unknown key 'distanse'"),
    (5, 'must be None or a dict'),
])
def test_bad_settings_name_the_key(cfg, message):
    with pytest.raises(ValueError, match=message):
        check_max_change(cfg)


class FillingModel:
    """A refiner's model whose network claims the whole crop (prob 1 everywhere)."""

    def __init__(self, max_change, model_size=32):
        self.model_size = model_size
        self.test_cfg = dict(max_change=max_change)

    def sample_seeds(self, data_samples):
        return [None] * len(data_samples)

    def refine(self,
               images,
               coarse,
               timesteps=None,
               cum_fine=None,
               generator=None,
               next_timestep=-1):
        return dict(prob=torch.ones_like(coarse), cum_fine=torch.full_like(coarse, 0.5))


def _disc(height=64, width=80):
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing='ij')
    return ((yy - 30)**2 + (xx - 40)**2) <= 12**2


def _within(coarse: torch.Tensor, distance: float) -> torch.Tensor:
    """The coarse mask grown by ``distance`` (Euclidean), brute force."""
    ys, xs = torch.nonzero(coarse, as_tuple=True)
    yy, xx = torch.meshgrid(
        torch.arange(coarse.shape[0]), torch.arange(coarse.shape[1]), indexing='ij')
    d2 = ((yy[..., None] - ys)**2 + (xx[..., None] - xs)**2).min(dim=-1).values
    return d2 <= distance**2


def test_instance_mode_grows_at_most_the_distance():
    coarse = _disc()
    image = torch.zeros(3, *coarse.shape)
    refiner = InstanceRefiner(min_area=1, box_padding=8)
    unguarded = refiner.refine_masks(FillingModel(None), [image], [coarse[None]])[0][0]
    assert unguarded.sum() == 41 * 41  # the whole box (disc 25 px + 2 x 8)
    guarded, probs = refiner.refine_masks(
        FillingModel(dict(distance=3)), [image], [coarse[None]], return_probs=True)
    assert torch.equal(guarded[0][0], _within(coarse, 3))
    assert torch.equal(guarded[0][0], probs[0][0] >= 0.5)


def test_global_local_mode_grows_at_most_the_distance():
    coarse = _disc()
    image = torch.zeros(3, *coarse.shape)
    refiner = GlobalLocalRefiner(
        min_fg_pixels=1, patch_size=32, interpolation='bilinear', prob_interpolation='bilinear')
    mask, _ = refiner.refine_mask(FillingModel(None), image, coarse)
    assert mask.all()
    mask, prob = refiner.refine_mask(FillingModel(dict(distance=2.5)), image, coarse)
    assert torch.equal(mask, _within(coarse, 2.5))
    assert torch.equal(mask, prob >= 0.5)


def _tiny_whole_model(**test_cfg):
    from mmseg_refiner.registry import MODELS
    from mmseg_refiner.testing import randomize_, tiny_segrefiner_cfg
    cfg = tiny_segrefiner_cfg('instance')
    cfg['test_cfg'].update(mode='whole', **test_cfg)
    return randomize_(MODELS.build(cfg), seed=3, std=0.3).eval()


def _whole_batch():
    from mmengine.structures import PixelData

    from mmseg_refiner.structures import RefineDataSample
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing='ij')
    coarse = ((yy - 16)**2 + (xx - 15)**2 <= 8**2).to(torch.uint8)
    sample = RefineDataSample(metainfo=dict(img_path='a.png'))
    sample.coarse_mask = PixelData(data=coarse[None])
    return torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)), [sample]


def test_whole_mode_of_a_real_model_keeps_far_pixels_coarse():
    images, samples = _whole_batch()
    coarse = samples[0].coarse_mask.data[0].bool()
    free = _tiny_whole_model().predict(images, samples)[0].pred_mask.data[0]
    far = torch.from_numpy(distance_to_boundary(coarse.numpy()) > 1.5)
    assert (free != coarse)[far].any()  # the random network changes far pixels ...
    images, samples = _whole_batch()
    guarded = _tiny_whole_model(max_change=dict(distance=1.5)).predict(images, samples)[0].pred_mask
    assert torch.equal(guarded.data[0][far], coarse[far])  # ... the guard keeps them
    assert torch.equal(guarded.data[0][~far], free[~far])
    assert torch.equal(guarded.data, guarded.prob >= 0.5)


@pytest.mark.parametrize('test_cfg, message', [
    (dict(max_change=dict(distance=-1)), r'test_cfg\.max_change\.distance'),
    (dict(max_change=dict(drop_new=True)), r"test_cfg\.max_change: unknown key 'drop_new'"),
    (dict(early_stop=dict(max_changed=2)), r'test_cfg\.early_stop\.max_changed'),
    (dict(early_stop=True), r'test_cfg\.early_stop must be None or a dict'),
])
def test_the_model_refuses_bad_settings_when_built(test_cfg, message):
    with pytest.raises(ValueError, match=message):
        _tiny_whole_model(**test_cfg)
