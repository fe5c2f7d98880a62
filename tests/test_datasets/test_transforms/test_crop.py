"""The object crop and the full-resolution patch crop."""
import numpy as np
import pytest

from mmseg_refiner.datasets import InvalidSampleError
from mmseg_refiner.datasets.transforms import RandomObjectCrop, RandomPatchCrop
from mmseg_refiner.fileio import mask_box as mask_bbox


def _sample(height, width, box):
    """Image whose pixel (y, x) encodes its coordinates, a box-shaped gt and coarse mask."""
    ys, xs = np.mgrid[:height, :width]
    img = np.stack([ys % 256, xs % 256, (ys // 256) * 16 + xs // 256], axis=-1).astype(np.uint8)
    gt = np.zeros((height, width), np.uint8)
    x0, y0, x1, y1 = box
    gt[y0:y1, x0:x1] = 1
    coarse = np.roll(gt, 3, axis=1)
    return dict(img=img, gt_mask=gt, coarse_mask=coarse, img_path='sample.jpg')


def _check_aligned(original, cropped):
    x0, y0, x1, y1 = cropped['crop_bbox']
    assert cropped['img_shape'] == (y1 - y0, x1 - x0)
    for key in ('img', 'gt_mask', 'coarse_mask'):
        np.testing.assert_array_equal(cropped[key], original[key][y0:y1, x0:x1])


def test_mask_bbox_is_tight_and_end_exclusive():
    mask = np.zeros((10, 12), np.uint8)
    mask[2:5, 7:9] = 1
    mask[8, 3] = 1
    assert mask_bbox(mask) == (3, 2, 9, 9)
    assert mask_bbox(np.zeros((4, 4), np.uint8)) is None


def test_object_crop_pads_box_by_40_in_total_and_covers_every_shift():
    np.random.seed(0)
    box = (50, 30, 80, 90)  # 30 wide, 60 high
    crop = RandomObjectCrop(padding=40)
    origins = set()
    for _ in range(600):
        original = _sample(200, 300, box)
        out = crop(dict(original))
        x0, y0, x1, y1 = out['crop_bbox']
        assert (x1 - x0, y1 - y0) == (30 + 40, 60 + 40)
        assert x0 <= box[0] and y0 <= box[1] and x1 >= box[2] and y1 >= box[3]
        _check_aligned(original, out)
        origins.add((x0, y0))
    xs, ys = {o[0] for o in origins}, {o[1] for o in origins}
    # shifts keep the box inside: x0 in [80 - 70, 50], y0 in [90 - 100 -> 0, 30]
    assert xs == set(range(10, 51))
    assert ys == set(range(0, 31))


def test_object_crop_is_clipped_to_the_image():
    np.random.seed(1)
    box = (2, 5, 38, 18)  # 36 wide in a 50-wide image: 36 + 40 > 50
    out = RandomObjectCrop(padding=40)(_sample(20, 50, box))
    assert out['crop_bbox'] == (0, 0, 50, 20)


def test_object_crop_without_padding_reaches_from_box_to_border():
    np.random.seed(2)
    box = (40, 10, 60, 30)
    crop = RandomObjectCrop(padding=None)
    seen = []
    for _ in range(400):
        original = _sample(50, 100, box)
        out = crop(dict(original))
        _check_aligned(original, out)
        seen.append(out['crop_bbox'])
    seen = np.array(seen)
    assert (seen[:, 0] <= 40).all() and (seen[:, 1] <= 10).all()
    assert (seen[:, 2] >= 60).all() and (seen[:, 3] >= 30).all()
    assert seen[:, 0].min() == 0 and seen[:, 0].max() == 40
    assert seen[:, 2].min() == 60 and seen[:, 2].max() == 100


def test_object_crop_of_empty_mask_names_the_sample():
    results = _sample(20, 20, (0, 0, 0, 0))
    results['mask_path'] = 'masks/empty.png'
    with pytest.raises(InvalidSampleError, match='masks/empty.png'):
        RandomObjectCrop()(results)


def test_patch_is_full_resolution_and_holds_both_classes():
    np.random.seed(3)
    crop = RandomPatchCrop(patch_size=256)
    for _ in range(50):
        original = _sample(400, 600, (100, 200, 300, 380))
        out = crop(dict(original))
        x0, y0, x1, y1 = out['crop_bbox']
        assert (x1 - x0, y1 - y0) == (256, 256)
        _check_aligned(original, out)
        assert out['gt_mask'].any() and not out['gt_mask'].all()


def test_patch_of_small_image_is_half_its_shorter_side():
    crop = RandomPatchCrop(patch_size=256)
    assert crop.patch_side(1000, 300) == 256
    assert crop.patch_side(250, 900) == 125
    np.random.seed(4)
    out = crop(_sample(180, 300, (50, 40, 200, 120)))
    x0, y0, x1, y1 = out['crop_bbox']
    assert (x1 - x0, y1 - y0) == (90, 90)


@pytest.mark.parametrize('tries', [0, 10])
def test_patch_position_is_uniform_over_valid_positions(tries):
    """Rejection sampling and the integral-image enumeration draw the same distribution."""
    np.random.seed(5)
    crop = RandomPatchCrop(patch_size=6, max_rejection_tries=tries)
    # one foreground pixel at (y=4, x=5) in a 12x12 image: valid 6x6 windows contain it
    expected = {(x0, y0)
                for x0 in range(0, 6 + 1) for y0 in range(0, 6 + 1)
                if x0 <= 5 < x0 + 6 and y0 <= 4 < y0 + 6}
    counts = {}
    draws = 3000
    for _ in range(draws):
        out = crop(_sample(12, 12, (5, 4, 6, 5)))
        origin = out['crop_bbox'][:2]
        counts[origin] = counts.get(origin, 0) + 1
    assert set(counts) == expected
    mean = draws / len(expected)
    # binomial std ~ sqrt(mean) ~ 9.6: 5 std either side
    assert all(abs(count - mean) < 5 * mean**0.5 for count in counts.values())


def test_patch_without_any_boundary_is_an_invalid_sample():
    results = _sample(40, 40, (0, 0, 40, 40))  # all foreground
    results['mask_path'] = 'full.png'
    with pytest.raises(InvalidSampleError, match='full.png'):
        RandomPatchCrop(patch_size=16)(results)
