"""Resize and flip of an image together with its masks."""
import numpy as np
import pytest

from mmseg_refiner.datasets.transforms import RefineRandomFlip, RefineResize


def test_nearest_upscale_repeats_every_label():
    gt = np.array([[0, 1], [1, 0]], np.uint8)
    img = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    out = RefineResize(scale=(4, 6))(dict(img=img, gt_mask=gt, coarse_mask=1 - gt))
    expected = np.kron(gt, np.ones((3, 2), np.uint8))  # height x3, width x2
    np.testing.assert_array_equal(out['gt_mask'], expected)
    np.testing.assert_array_equal(out['coarse_mask'], 1 - expected)
    assert out['img'].shape == (6, 4, 3)
    assert out['img_shape'] == (6, 4)
    assert out['scale_factor'] == (2.0, 3.0)


def test_area_downscale_thresholds_block_coverage_at_half():
    # 2x2 blocks with 0, 1, 2, 3 foreground pixels -> coverage 0, .25, .5, .75
    gt = np.zeros((2, 8), np.uint8)
    gt[0, 2] = 1
    gt[0, 4:6] = 1
    gt[:, 6:8] = 1
    gt[1, 7] = 0
    out = RefineResize(
        scale=(4, 1), mask_interpolation='area')(
            dict(img=np.zeros((2, 8, 3), np.uint8), gt_mask=gt))
    np.testing.assert_array_equal(out['gt_mask'], [[0, 0, 1, 1]])
    assert out['gt_mask'].dtype == np.uint8


def test_unknown_interpolation_is_rejected():
    with pytest.raises(ValueError, match='lanczos'):
        RefineResize(mask_interpolation='lanczos')


def test_flip_mirrors_every_key_together():
    img = np.random.RandomState(0).randint(0, 255, (5, 7, 3)).astype(np.uint8)
    gt = (img[..., 0] > 128).astype(np.uint8)
    out = RefineRandomFlip(prob=1.0)(dict(img=img, gt_mask=gt, coarse_mask=gt.copy()))
    assert out['flip'] and out['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(out['img'], img[:, ::-1])
    np.testing.assert_array_equal(out['gt_mask'], gt[:, ::-1])
    np.testing.assert_array_equal(out['coarse_mask'], gt[:, ::-1])


def test_flip_happens_with_the_given_probability():
    np.random.seed(0)
    flip = RefineRandomFlip(prob=0.5)
    img = np.zeros((2, 2, 3), np.uint8)
    flips = [flip(dict(img=img))['flip'] for _ in range(1000)]
    assert 0.45 < np.mean(flips) < 0.55  # binomial std 0.016
