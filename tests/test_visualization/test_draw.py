"""draw_refinement: colours in the right places, size kept, legend placement."""
import numpy as np
import pytest

from mmseg_refiner.visualization import draw_refinement
from mmseg_refiner.visualization.draw import COLOURS, DIM


def _square(shape, top, left, size):
    mask = np.zeros(shape, bool)
    mask[top:top + size, left:left + size] = True
    return mask


def test_added_removed_and_boundaries_coloured_where_expected():
    image = np.full((40, 40, 3), 200, np.uint8)
    coarse = _square((40, 40), 10, 10, 12)  # rows/cols 10..21
    refined = _square((40, 40), 14, 14, 12)  # rows/cols 14..25
    out = draw_refinement(image, coarse, refined, legend=False)
    assert out.shape == image.shape and out.dtype == np.uint8
    # untouched background: dimmed image only
    np.testing.assert_array_equal(out[35, 35], [round(200 * DIM)] * 3)
    # inside both masks, away from boundaries: dimmed image only
    np.testing.assert_array_equal(out[18, 18], [round(200 * DIM)] * 3)
    # boundaries: exact colours, refined drawn over coarse
    np.testing.assert_array_equal(out[25, 20], COLOURS['refined'])
    np.testing.assert_array_equal(out[10, 12], COLOURS['coarse'])
    # added (refined only, inner pixel) leans to the 'added' colour, removed to 'removed'
    added, removed = out[23, 23].astype(int), out[12, 17].astype(int)
    assert np.abs(added - COLOURS['added']).sum() < np.abs(added - COLOURS['removed']).sum()
    assert np.abs(removed - COLOURS['removed']).sum() < np.abs(removed - COLOURS['added']).sum()


def test_identical_masks_show_only_the_refined_boundary_and_gt_under_it():
    image = np.zeros((30, 30, 3), np.uint8)
    mask = _square((30, 30), 5, 5, 10)
    gt = _square((30, 30), 5, 5, 12)
    out = draw_refinement(image, mask, mask, gt=gt, legend=False)
    colours = {tuple(c) for c in out.reshape(-1, 3)}
    assert tuple(COLOURS['coarse']) not in colours
    assert tuple(COLOURS['refined']) in colours
    np.testing.assert_array_equal(out[16, 10], COLOURS['ground truth'])  # gt edge below mask


def test_legend_goes_to_the_emptiest_corner_and_is_left_out_on_tiny_images():
    image = np.full((400, 400, 3), 100, np.uint8)
    coarse = _square((400, 400), 0, 0, 150)  # changes in the top-left corner
    refined = _square((400, 400), 0, 0, 20)
    plain = draw_refinement(image, coarse, refined, legend=False)
    with_legend = draw_refinement(image, coarse, refined)
    changed = np.argwhere((plain != with_legend).any(axis=2))
    assert len(changed) > 0
    assert changed[:, 0].min() > 200 or changed[:, 1].min() > 200  # not in the top-left
    tiny = np.zeros((16, 16, 3), np.uint8)
    small = _square((16, 16), 4, 4, 6)
    np.testing.assert_array_equal(
        draw_refinement(tiny, small, small), draw_refinement(tiny, small, small, legend=False))


def test_grey_image_and_bad_shapes():
    out = draw_refinement(np.zeros((8, 9), np.uint8), np.zeros((8, 9)), np.ones((8, 9)))
    assert out.shape == (8, 9, 3)
    with pytest.raises(ValueError, match='refined mask has shape'):
        draw_refinement(np.zeros((8, 9, 3), np.uint8), np.zeros((8, 9)), np.ones((9, 8)))
