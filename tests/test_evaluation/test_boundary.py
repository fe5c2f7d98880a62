"""Boundary extraction and Boundary IoU on hand-made masks with known answers."""
import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest

from mmseg_refiner.evaluation.functional import (boundary_iou, boundary_width,
                                                 compute_boundary_rles, mask_to_boundary,
                                                 rle_to_boundary_rle)

# 20x20 images: round(0.02 * 28.3) = 1, so the boundary is one pixel wide.
SMALL = (20, 20)


def _square(shape, y0, x0, size):
    mask = np.zeros(shape, np.uint8)
    mask[y0:y0 + size, x0:x0 + size] = 1
    return mask


def test_boundary_width_follows_the_image_diagonal():
    assert boundary_width(20, 20) == 1  # 0.57 rounds to 1
    assert boundary_width(10, 10) == 1  # 0.28 rounds to 0: at least 1
    assert boundary_width(100, 100) == 3  # 2.83
    assert boundary_width(480, 640) == 16  # diagonal 800
    assert boundary_width(480, 640, dilation_ratio=0.005) == 4


def test_one_pixel_boundary_of_a_square_is_its_outline():
    mask = _square(SMALL, 2, 2, 8)
    boundary = mask_to_boundary(mask)
    assert boundary.sum() == 4 * 8 - 4
    assert boundary[2, 2:10].all() and boundary[9, 2:10].all()
    assert boundary[2:10, 2].all() and boundary[2:10, 9].all()
    assert not boundary[3:9, 3:9].any()


def test_boundary_is_d_pixels_deep():
    shape = (100, 100)  # d = 3
    boundary = mask_to_boundary(_square(shape, 40, 40, 20))
    assert boundary.sum() == 20 * 20 - 14 * 14
    assert boundary[40:43, 50].all() and not boundary[43, 50]


def test_two_overlapping_squares_by_hand():
    # P: rows/cols 2..9, G: rows/cols 4..11. Each outline has 28 pixels; they
    # share only (9, 4) and (4, 9), so Boundary IoU = 2 / (28 + 28 - 2).
    pred = _square(SMALL, 2, 2, 8)
    gt = _square(SMALL, 4, 4, 8)
    assert boundary_iou(pred, gt) == pytest.approx(2 / 54)
    assert boundary_iou(gt, gt) == 1.0


def test_object_cut_by_the_image_border_has_a_boundary_there():
    mask = np.zeros(SMALL, np.uint8)
    mask[:, :10] = 1  # the left half, touching three image borders
    boundary = mask_to_boundary(mask)
    assert boundary[:, 0].all() and boundary[0, :10].all() and boundary[-1, :10].all()
    assert boundary[:, 9].all()
    assert boundary.sum() == 2 * 20 + 2 * 10 - 4
    full = np.ones(SMALL, np.uint8)
    assert mask_to_boundary(full).sum() == 4 * 20 - 4


def test_empty_prediction_scores_zero():
    gt = _square(SMALL, 4, 4, 8)
    assert boundary_iou(np.zeros(SMALL, np.uint8), gt) == 0.0
    assert not mask_to_boundary(np.zeros(SMALL, np.uint8)).any()


def test_size_mismatch_is_refused():
    with pytest.raises(ValueError, match='differ in size'):
        boundary_iou(np.zeros((4, 4)), np.zeros((4, 5)))


def _erode_whole_image(mask, dilation_ratio):
    """The definition, literally: pad the whole mask by one zero pixel, erode d times."""
    height, width = mask.shape
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(
        padded, np.ones((3, 3), np.uint8), iterations=boundary_width(height, width, dilation_ratio))
    return mask.astype(bool) & (eroded[1:-1, 1:-1] == 0)


def test_cropped_erosion_equals_eroding_the_whole_image():
    rng = np.random.default_rng(0)
    for _ in range(100):
        height, width = rng.integers(5, 90, size=2)
        mask = np.zeros((height, width), np.uint8)
        for _ in range(3):
            y, x = rng.integers(0, height), rng.integers(0, width)
            mask[y:y + rng.integers(1, 40), x:x + rng.integers(1, 40)] = 1
        ratio = float(rng.choice([0.02, 0.05, 0.2]))
        np.testing.assert_array_equal(
            mask_to_boundary(mask, ratio), _erode_whole_image(mask, ratio))


def test_rle_boundaries_match_array_boundaries_in_process_and_in_a_pool():
    rng = np.random.default_rng(1)
    masks = [(rng.random((40, 50)) > 0.7).astype(np.uint8) for _ in range(6)]
    masks.append(np.zeros((40, 50), np.uint8))
    rles = [mask_utils.encode(np.asfortranarray(m)) for m in masks]
    for rle, mask in zip(rles, masks):
        np.testing.assert_array_equal(
            mask_utils.decode(rle_to_boundary_rle(rle)), mask_to_boundary(mask))
    in_process = compute_boundary_rles(rles, nproc=1)
    pooled = compute_boundary_rles(rles, nproc=2)
    assert [r['counts'] for r in in_process] == [r['counts'] for r in pooled]
