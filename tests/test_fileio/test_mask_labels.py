"""The label rule of the one mask rule: one label is the object, 255 beside it is mmseg's
ignore band, several labels are an error naming the file (mmseg_refiner/fileio/masks.py)."""
import cv2
import numpy as np
import pytest
import warnings
from PIL import Image

from mmseg_refiner.fileio import IgnoredPixelsWarning, mask_from_array, read_mask

SHAPE = (40, 50)


def _square():
    mask = np.zeros(SHAPE, bool)
    mask[10:30, 12:40] = True
    return mask


SQUARE = _square()


def test_a_0_1_mask_with_one_stray_255_is_the_0_1_object(tmp_path):
    stored = SQUARE.astype(np.uint8)
    stored[0, 0] = 255
    cv2.imwrite(str(tmp_path / 'm.png'), stored)
    with pytest.warns(IgnoredPixelsWarning, match=r'm.png: 1 pixels of 255 .*560 pixels of 1'):
        mask = read_mask(tmp_path / 'm.png')
    np.testing.assert_array_equal(mask, SQUARE)  # not the 1-pixel object of ">= 128"


def test_a_palette_png_with_a_255_ignore_band_is_not_foreground_there(tmp_path):
    index = SQUARE.astype(np.uint8)
    index[:, :3] = 255  # mmseg's ignore band along the left edge
    image = Image.fromarray(index, mode='P')
    image.putpalette([0, 0, 0, 200, 0, 0] + [0] * 253 * 3 + [255, 255, 255])
    image.save(tmp_path / 'p.png')
    with pytest.warns(IgnoredPixelsWarning, match='p.png'):
        mask = read_mask(tmp_path / 'p.png')
    np.testing.assert_array_equal(mask, SQUARE)


@pytest.mark.parametrize('labels', [(0, 1, 2), (0, 3, 7, 255), (0, 1, 2, 255)])
def test_a_label_map_of_several_classes_is_an_error_naming_the_file_and_labels(tmp_path, labels):
    stored = np.zeros(SHAPE, np.uint8)
    for k, label in enumerate(labels):
        stored[:, k * 10:(k + 1) * 10] = label
    cv2.imwrite(str(tmp_path / 'labels.png'), stored)
    shown = ', '.join(str(v) for v in labels if v != 255)
    with pytest.raises(ValueError, match=f'labels.png holds the labels {shown}'):
        read_mask(tmp_path / 'labels.png')
    with pytest.raises(ValueError, match='several classes'):
        mask_from_array(stored.astype(np.uint16), 'mask 3')


@pytest.mark.parametrize('label', [1, 7, 255])
def test_one_label_is_the_object_whatever_its_value(tmp_path, label):
    cv2.imwrite(str(tmp_path / 'm.png'), np.where(SQUARE, label, 0).astype(np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        np.testing.assert_array_equal(read_mask(tmp_path / 'm.png'), SQUARE)


def test_grey_levels_still_threshold_at_128():
    matte = np.where(SQUARE, 230, 20).astype(np.uint8)  # values in 128..254: grey levels
    matte[0, :5] = (0, 1, 2, 127, 128)
    expected = SQUARE.copy()
    expected[0, 4] = True
    np.testing.assert_array_equal(mask_from_array(matte), expected)


def test_negative_labels_are_refused():
    with pytest.raises(ValueError, match='negative'):
        mask_from_array(np.where(SQUARE, -1, 0), 'mask 0')
