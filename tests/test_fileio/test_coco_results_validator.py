"""The COCO results validator: every malformed record is named by index and field."""
import json
import numpy as np
import pycocotools.mask as mask_utils
import pytest

from mmseg_refiner.fileio import CocoResultsError, load_coco_results, validate_coco_results


def _record(**changes):
    mask = np.zeros((6, 7), np.uint8)
    mask[1:4, 2:6] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    record = dict(
        image_id=3,
        category_id=1,
        score=0.5,
        bbox=[2, 1, 4, 3],
        segmentation=dict(size=rle['size'], counts=rle['counts'].decode()))
    record.update(changes)
    return record


def _error(records, **kwargs):
    with pytest.raises(CocoResultsError) as err:
        validate_coco_results(records, 'res.json', **kwargs)
    return str(err.value)


def test_valid_records_pass_and_empty_list_is_valid():
    records = [_record(), _record(segmentation=[[0, 0, 4, 0, 4, 4]], bbox=None)]
    assert validate_coco_results(records, 'res.json') is records
    assert validate_coco_results([], 'res.json') == []


@pytest.mark.parametrize('score, words', [
    (float('nan'), 'nan is not a finite number'),
    (float('inf'), 'inf is not a finite number'),
    ('0.9', "the string '0.9'"),
    (True, 'must be a number'),
])
def test_bad_scores_are_named(score, words):
    message = _error([_record(), _record(score=score)])
    assert message.startswith('res.json: record 1, score')
    assert words in message


def test_nan_literal_in_the_file_is_refused(tmp_path):
    path = tmp_path / 'res.json'
    path.write_text(json.dumps([_record()]).replace('0.5', 'NaN'))
    with pytest.raises(CocoResultsError, match=r'res.json: record 0, score: nan'):
        load_coco_results(str(path))


def test_string_image_id_says_so():
    message = _error([_record(image_id='100')])
    assert "record 0, image_id is the string '100'" in message and 'write 100' in message


def test_float_category_id_is_refused():
    assert 'category_id is the float 2.0' in _error([_record(category_id=2.0)])


@pytest.mark.parametrize('bbox',
                         [[1, 2, 3], [1, 2, 3, 4, 5], [1, 2, float('nan'), 4], [1, 2, -3, 4], 'box']
                         )
def test_bad_boxes_are_named(bbox):
    assert 'record 0, bbox' in _error([_record(bbox=bbox)])


def test_bbox_required_for_box_evaluation():
    no_box = {k: v for k, v in _record().items() if k != 'bbox'}
    validate_coco_results([no_box], 'res.json')
    assert 'record 0 lacks bbox' in _error([no_box], require=('bbox', ))


def test_truncated_rle_is_refused():
    record = _record()
    record['segmentation']['counts'] = record['segmentation']['counts'][:2]
    message = _error([record])
    assert 'record 0, segmentation: RLE counts cover' in message and '[6, 7] has 42' in message


def test_garbage_rle_is_refused():
    record = _record()
    record['segmentation']['counts'] = '~~~~'  # outside the format's 64 characters
    assert "record 0, segmentation: compressed RLE counts hold '~'" in _error([record])


def test_uncompressed_rle_is_checked():
    ok = _record(segmentation=dict(size=[2, 3], counts=[1, 4, 1]))
    validate_coco_results([ok], 'res.json')
    bad = _record(segmentation=dict(size=[2, 3], counts=[1, 4]))
    assert 'record 0, segmentation: RLE counts cover 5 pixels' in _error([bad])


def test_short_polygons_are_refused():
    message = _error([_record(segmentation=[[0, 0, 4, 0, 4, 4], [1, 1, 5, 5]])])
    assert 'record 0, segmentation: polygon 1 has 4 numbers' in message


def test_missing_fields_and_non_objects():
    assert 'record 0 lacks category_id' in _error(
        [{k: v
          for k, v in _record().items() if k != 'category_id'}])
    assert 'record 1 is a list' in _error([_record(), [1, 2]])
    assert 'holds a dict, not a list' in _error({'annotations': []})
