"""The one mask rule: the same object whatever way a mask was saved."""
import cv2
import numpy as np
import pytest
import torch
import warnings
from PIL import Image

from mmseg_refiner.fileio import EmptyMaskWarning, mask_box, mask_boxes, mask_from_array, read_mask


def _object(height=64, width=80):
    """A disc with a square hole and a thin bar: edges in every direction."""
    mask = np.zeros((height, width), bool)
    yy, xx = np.mgrid[:height, :width]
    mask |= (yy - 30)**2 + (xx - 35)**2 <= 20**2
    mask[25:35, 30:40] = False
    mask[5:8, 50:78] = True
    return mask


OBJECT = _object()


@pytest.mark.parametrize('values', [(0, 1), (0, 255)])
def test_0_1_and_0_255_pngs_are_the_same_object(tmp_path, values):
    stored = np.where(OBJECT, values[1], values[0]).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'm.png'), stored)
    np.testing.assert_array_equal(read_mask(tmp_path / 'm.png'), OBJECT)


def test_jpeg_noise_of_a_0_255_mask_does_not_become_foreground(tmp_path):
    path = str(tmp_path / 'm.jpg')
    cv2.imwrite(path, np.where(OBJECT, 255, 0).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 75])
    stored = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    noisy_background = (~OBJECT) & (stored > 0)
    assert noisy_background.sum() > 100  # the JPEG really added noise ...
    mask = read_mask(path)
    assert not (mask & noisy_background).any()  # ... which the rule leaves out
    np.testing.assert_array_equal(mask, OBJECT)


def test_palette_png_is_read_by_index_not_by_colour(tmp_path):
    index = OBJECT.astype(np.uint8) * 2  # index 0 background, 2 foreground
    image = Image.fromarray(index, mode='P')
    # index 0 is white, index 2 black: the colours say the opposite of the indices
    image.putpalette([255, 255, 255, 10, 10, 10, 0, 0, 0] + [0] * (256 - 3) * 3)
    image.save(tmp_path / 'p.png')
    np.testing.assert_array_equal(read_mask(tmp_path / 'p.png'), OBJECT)


@pytest.mark.parametrize('value', [1, 255, 65535])
def test_16_bit_png_is_foreground_where_non_zero(tmp_path, value):
    path = str(tmp_path / 'm16.png')
    cv2.imwrite(path, np.where(OBJECT, value, 0).astype(np.uint16))
    assert cv2.imread(path, cv2.IMREAD_UNCHANGED).dtype == np.uint16
    np.testing.assert_array_equal(read_mask(path), OBJECT)


def test_colour_mask_uses_its_largest_channel(tmp_path):
    colour = np.zeros((*OBJECT.shape, 3), np.uint8)
    colour[OBJECT] = (0, 0, 200)  # red in BGR
    cv2.imwrite(str(tmp_path / 'c.png'), colour)
    np.testing.assert_array_equal(read_mask(tmp_path / 'c.png'), OBJECT)


def test_float_tiff_is_a_probability(tmp_path):
    prob = np.where(OBJECT, 0.7, 0.2).astype(np.float32)
    Image.fromarray(prob, mode='F').save(tmp_path / 'p.tif')
    np.testing.assert_array_equal(read_mask(tmp_path / 'p.tif'), OBJECT)


@pytest.mark.parametrize(
    'array', [
        OBJECT,
        OBJECT.astype(np.uint8),
        OBJECT.astype(np.uint8) * 255,
        OBJECT.astype(np.int64) * 3,
        OBJECT.astype(np.uint16) * 65535,
        np.where(OBJECT, 0.5, 0.4999).astype(np.float32),
        np.where(OBJECT, 1.0, 0.0),
        torch.from_numpy(OBJECT.astype(np.uint8)),
        OBJECT[..., None],
    ],
    ids=['bool', 'u8-0/1', 'u8-0/255', 'int64', 'u16', 'f32-prob', 'f64', 'tensor', 'HxWx1'])
def test_arrays_follow_the_same_rule(array):
    np.testing.assert_array_equal(mask_from_array(array), OBJECT)


def test_nan_is_refused_naming_the_mask():
    prob = np.where(OBJECT, 0.9, 0.1)
    prob[3, 4] = np.nan
    with pytest.raises(ValueError, match='mask 7 .*NaN'):
        mask_from_array(prob, 'mask 7')


def test_a_mask_empty_under_the_rule_warns_naming_the_file(tmp_path):
    path = str(tmp_path / 'empty.png')
    cv2.imwrite(path, np.zeros(OBJECT.shape, np.uint8))
    with pytest.warns(EmptyMaskWarning, match='empty.png'):
        assert not read_mask(path).any()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        read_mask(path, warn_empty=False)


def test_unreadable_and_missing_files_are_named(tmp_path):
    (tmp_path / 'bad.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match='bad.png'):
        read_mask(tmp_path / 'bad.png')
    with pytest.raises(FileNotFoundError, match='missing.png'):
        read_mask(tmp_path / 'missing.png')


def test_mask_boxes_are_tight_and_end_exclusive():
    mask = np.zeros((2, 10, 12), bool)
    mask[0, 2:9, 3:9] = True
    np.testing.assert_array_equal(mask_boxes(mask), [[3, 2, 9, 9], [0, 0, 0, 0]])
    assert mask_box(mask[0]) == (3, 2, 9, 9) and mask_box(mask[1]) is None
