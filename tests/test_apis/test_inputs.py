"""Turning paths and arrays into the image and masks the refiners take."""
import cv2
import numpy as np
import os
import pytest
import torch

from mmseg_refiner.apis import to_bgr_image, to_bool_masks
from mmseg_refiner.fileio import mask_to_uint8, write_image_atomic


def _image(h=12, w=16):
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_bgr_array_passes_through_unchanged():
    img = _image()
    np.testing.assert_array_equal(to_bgr_image(img), img)


@pytest.mark.parametrize('shape', [(12, 16), (12, 16, 1)])
def test_grey_image_is_repeated_to_three_channels(shape):
    grey = np.arange(12 * 16, dtype=np.uint8).reshape(shape)
    out = to_bgr_image(grey)
    assert out.shape == (12, 16, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], grey.reshape(12, 16))


def test_bgra_image_loses_alpha():
    bgra = np.dstack([_image(), np.full((12, 16), 7, np.uint8)])
    np.testing.assert_array_equal(to_bgr_image(bgra), bgra[..., :3])


@pytest.mark.parametrize('bad, message', [
    (np.zeros((4, 4, 3), np.float32), 'uint8'),
    (np.zeros((4, 4, 2), np.uint8), 'shape'),
    (np.zeros((2, 4, 4, 3), np.uint8), 'shape'),
    ([[1, 2]], 'numpy array'),
])
def test_unsupported_image_arrays_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        to_bgr_image(bad)


def test_image_files_grey_rgba_and_corrupt(tmp_path):
    grey = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    cv2.imwrite(str(tmp_path / 'grey.png'), grey)
    np.testing.assert_array_equal(to_bgr_image(tmp_path / 'grey.png')[..., 1], grey)
    bgra = np.dstack([_image(), np.full((12, 16), 9, np.uint8)])
    cv2.imwrite(str(tmp_path / 'rgba.png'), bgra)
    np.testing.assert_array_equal(to_bgr_image(str(tmp_path / 'rgba.png')), bgra[..., :3])
    (tmp_path / 'corrupt.png').write_bytes(b'not a png at all')
    with pytest.raises(ValueError, match='corrupt.png'):
        to_bgr_image(str(tmp_path / 'corrupt.png'))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        to_bgr_image(str(tmp_path / 'missing.png'))


def test_one_mask_follows_the_mask_rule():
    mask = np.array([[0, 3], [3, 0]], np.int16)  # integers: 0 and one label
    out, single = to_bool_masks(mask, (2, 2))
    assert single and out.shape == (1, 2, 2) and out.dtype == bool
    np.testing.assert_array_equal(out[0], [[False, True], [True, False]])
    with pytest.raises(ValueError, match='negative'):
        to_bool_masks(np.array([[0, 3], [-1, 0]], np.int16), (2, 2))
    out, single = to_bool_masks(torch.tensor([[0., 0.5], [0.49, 0.]]), (2, 2))  # probabilities
    assert single and out[0].sum() == 1
    out, single = to_bool_masks(np.array([[0, 1], [1, 0]], np.uint8)[..., None], (2, 2))
    assert single and out.shape == (1, 2, 2) and out[0].sum() == 2  # HxWx1: one mask


def test_several_masks_as_list_stack_and_paths(tmp_path):
    a = np.zeros((3, 4), np.uint8)
    a[0, 0] = 255
    b = np.ones((3, 4), bool)
    cv2.imwrite(str(tmp_path / 'a.png'), a)
    out, single = to_bool_masks([str(tmp_path / 'a.png'), b], (3, 4))
    assert not single and out.shape == (2, 3, 4)
    assert out[0].sum() == 1 and out[1].all()
    out, single = to_bool_masks(np.stack([a, b]), (3, 4))
    assert not single and out.shape == (2, 3, 4)
    out, single = to_bool_masks(tmp_path / 'a.png', (3, 4))
    assert single and out.shape == (1, 3, 4)
    out, single = to_bool_masks([a], (3, 4))
    assert not single and out.shape == (1, 3, 4)


def test_colour_mask_file_uses_its_largest_channel(tmp_path):
    colour = np.zeros((3, 4, 3), np.uint8)
    colour[1, 2] = (0, 0, 200)  # grey conversion would make this 60, under 128
    colour[0, 0] = (0, 0, 40)  # JPEG-like noise in one channel
    cv2.imwrite(str(tmp_path / 'c.png'), colour)
    mask = to_bool_masks(tmp_path / 'c.png', (3, 4))[0][0]
    assert mask.shape == (3, 4) and mask.sum() == 1 and mask[1, 2]


def test_mask_errors_name_the_offending_mask(tmp_path):
    good = np.zeros((3, 4), bool)
    with pytest.raises(ValueError, match='empty list'):
        to_bool_masks([], (3, 4))
    with pytest.raises(ValueError, match=r'mask 1 has size 4x3'):
        to_bool_masks([good, np.zeros((4, 3))], (3, 4))
    cv2.imwrite(str(tmp_path / 'small.png'), np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match='small.png has size 2x2'):
        to_bool_masks(str(tmp_path / 'small.png'), (3, 4))
    with pytest.raises(ValueError, match=r'mask 0 \(.*small.png\)'):
        to_bool_masks([str(tmp_path / 'small.png')], (3, 4))
    with pytest.raises(ValueError, match='one HxW mask'):
        to_bool_masks([np.zeros((3, 4, 2))], (3, 4))
    with pytest.raises(ValueError, match='shape'):
        to_bool_masks(np.zeros((1, 1, 3, 4)), (3, 4))
    with pytest.raises(ValueError, match='empty stack'):
        to_bool_masks(np.zeros((0, 3, 4)), (3, 4))
    (tmp_path / 'bad.png').write_bytes(b'\x89PNG broken')
    with pytest.raises(ValueError, match='bad.png'):
        to_bool_masks(str(tmp_path / 'bad.png'), (3, 4))


def test_hxwx1_mask_is_one_mask():
    mask = np.zeros((3, 4, 1), np.uint8)
    mask[1, 2, 0] = 255
    for given in (mask, torch.from_numpy(mask)):
        masks, single = to_bool_masks(given, (3, 4))
        assert single and masks.shape == (1, 3, 4) and masks.sum() == 1 and masks[0, 1, 2]
    masks, single = to_bool_masks([mask, mask[..., 0]], (3, 4))
    assert not single and masks.shape == (2, 3, 4) and masks.sum() == 2
    # Three 4x1 masks of a 4x1 image stay a stack of three.
    masks, single = to_bool_masks(np.ones((3, 4, 1)), (4, 1))
    assert not single and masks.shape == (3, 4, 1)


@pytest.mark.parametrize(
    'given',
    [np.array([[0.0, np.nan], [1.0, 0.0]]),
     torch.tensor([[0.0, float('nan')], [1.0, 0.0]])])
def test_float_mask_with_nan_is_refused(given):
    with pytest.raises(ValueError, match=r'mask is a float mask .*NaN'):
        to_bool_masks(given, (2, 2))
    with pytest.raises(ValueError, match=r'mask 1 is a float mask .*NaN'):
        to_bool_masks([np.zeros((2, 2)), given], (2, 2))


def test_atomic_write_round_trip_leaves_no_temp_file(tmp_path):
    mask = mask_to_uint8(np.eye(5, dtype=bool))
    assert set(np.unique(mask)) == {0, 255}
    path = tmp_path / 'sub' / 'out.png'
    write_image_atomic(path, mask)
    np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), mask)
    assert os.listdir(tmp_path / 'sub') == ['out.png']
    with pytest.raises(ValueError, match='.nosuchformat'):
        write_image_atomic(tmp_path / 'x.nosuchformat', mask)
    assert os.listdir(tmp_path) == ['sub']
