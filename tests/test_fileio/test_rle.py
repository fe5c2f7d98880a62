"""COCO segmentation decode / encode / validate."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmseg_refiner.fileio import (decode_segmentation, encode_mask, rle_counts_from_string,
                                  validate_segmentation)


def _mask():
    mask = np.zeros((7, 9), np.uint8)
    mask[1:5, 2:6] = 1
    mask[6, 8] = 1
    return mask


def _runs(mask):
    """Run lengths in column-major order starting with background, by hand."""
    flat = mask.flatten(order='F')
    runs, current, length = [], 0, 0
    for value in flat:
        if value == current:
            length += 1
        else:
            runs.append(length)
            current, length = value, 1
    return runs + [length]


def test_compressed_counts_parse_to_the_run_lengths():
    mask = _mask()
    rle = encode_mask(mask)
    assert isinstance(rle['counts'], str) and rle['size'] == [7, 9]
    assert rle_counts_from_string(rle['counts']) == _runs(mask)


def test_every_form_decodes_to_the_same_mask():
    mask = _mask()
    compressed = encode_mask(mask)
    as_bytes = dict(compressed, counts=compressed['counts'].encode())
    uncompressed = dict(size=[7, 9], counts=_runs(mask))
    for form in (compressed, as_bytes, uncompressed):
        np.testing.assert_array_equal(decode_segmentation(form, 7, 9), mask)
    square = [[2.0, 1.0, 6.0, 1.0, 6.0, 5.0, 2.0, 5.0]]
    polygon = decode_segmentation(square, 7, 9)
    np.testing.assert_array_equal(
        polygon, mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(square, 7, 9))))


@pytest.mark.parametrize(
    'segmentation, message',
    [
        (dict(size=[7, 9], counts='0'), 'cover'),  # far too short
        (dict(size=[7, 9], counts='`'), 'truncated'),  # cut inside a number
        (dict(size=[7, 9], counts='ab~~ \x7f'), 'garbage'),  # not COCO's code
        (dict(size=[7, 9], counts=[10, 3]), 'cover'),
        (dict(size=[7, 9], counts=[60, -1, 4]), 'non-negative'),
        (dict(size=[8, 9], counts=[72]), 'differs'),
        (dict(size=[7], counts=[63]), 'size'),
        ([[1, 2, 3, 4]], '4 numbers'),  # pycocotools: a box
        ([[1, 2, 3, 4, 5]], '5 numbers'),
        ([], 'empty'),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 'polygon 0'),
        (dict(counts='abc'), 'neither'),
    ])
def test_bad_segmentations_raise_naming_the_record(segmentation, message):
    with pytest.raises(ValueError, match=f'detection 3 of r.json.*{message}'):
        decode_segmentation(segmentation, 7, 9, 'detection 3 of r.json')


def test_truncating_a_real_rle_is_detected():
    mask = np.zeros((40, 50), np.uint8)
    mask[5:30, 7:41] = 1
    mask[12:20, 15:22] = 0
    counts = encode_mask(mask)['counts']
    for cut in range(1, len(counts)):
        with pytest.raises(ValueError):
            validate_segmentation(dict(size=[40, 50], counts=counts[:cut]), 40, 50)
