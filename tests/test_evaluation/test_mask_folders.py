"""Matching ground-truth, predicted and coarse mask files by name."""
import cv2
import numpy as np
import pytest

from mmseg_refiner.evaluation.functional import MaskFiles, evaluate_mask_files, match_mask_folders


def _touch_masks(folder, names, shape=(8, 8)):
    folder.mkdir(exist_ok=True)
    for name in names:
        cv2.imwrite(str(folder / name), np.full(shape, 255, np.uint8))
    return str(folder)


def test_match_removes_the_suffix_and_ignores_other_files(tmp_path):
    folder = _touch_masks(tmp_path / 'big', ['a_gt.png', 'a_im.jpg', 'b_gt.png', 'b_seg.png'])
    (tmp_path / 'big' / 'notes.txt').write_text('not an image')
    match = match_mask_folders(folder, folder, gt_suffix='_gt', pred_suffix='_seg')
    assert [f.key for f in match.matched] == ['b'] and match.missing_pred == ['a']


def test_match_refuses_names_that_clash(tmp_path):
    gt = _touch_masks(tmp_path / 'gt', ['a.png'])
    pred = _touch_masks(tmp_path / 'pred', ['a.png', 'a.jpg'])
    with pytest.raises(ValueError, match=r'a\.jpg and a\.png'):
        match_mask_folders(gt, pred)
    with pytest.raises(FileNotFoundError, match='nowhere'):
        match_mask_folders(str(tmp_path / 'nowhere'), pred)


def test_0_1_predictions_are_scored_as_the_masks_they_are(tmp_path):
    """A 0/1 PNG is the mask it holds, not an empty one (nor all foreground)."""
    gt = np.zeros((20, 20), np.uint8)
    gt[2:12, 2:12] = 255  # 100 px
    pred = np.zeros((20, 20), np.uint8)
    pred[4:14, 4:14] = 1  # 100 px, 64 shared
    cv2.imwrite(str(tmp_path / 'gt.png'), gt)
    cv2.imwrite(str(tmp_path / 'pred.png'), pred)
    record = evaluate_mask_files(
        MaskFiles('x', str(tmp_path / 'gt.png'), str(tmp_path / 'pred.png')))
    assert (record['intersection'], record['union']) == (64, 136)


def test_match_lists_missing_and_extra_files(tmp_path):
    gt = _touch_masks(tmp_path / 'gt', ['a_gt.png', 'b_gt.png', 'c_gt.png'])
    pred = _touch_masks(tmp_path / 'pred', ['a.png', 'b.png', 'z.png'])
    coarse = _touch_masks(tmp_path / 'coarse', ['a_seg.png', 'c_seg.png'])
    match = match_mask_folders(gt, pred, coarse, gt_suffix='_gt', coarse_suffix='_seg')
    assert [f.key for f in match.matched] == ['a']
    assert match.missing_pred == ['c']
    assert match.missing_coarse == ['b']
    assert match.extra_pred == ['z']


def test_size_mismatch_and_unreadable_files_become_errors(tmp_path):
    gt = _touch_masks(tmp_path / 'gt', ['a.png'], shape=(8, 8))
    pred = _touch_masks(tmp_path / 'pred', ['a.png'], shape=(8, 9))
    record = evaluate_mask_files(MaskFiles('a', gt + '/a.png', pred + '/a.png'))
    assert 'is 9x8 but its ground truth' in record['error']
    (tmp_path / 'pred' / 'b.png').write_bytes(b'not a png')
    record = evaluate_mask_files(MaskFiles('b', gt + '/a.png', pred + '/b.png'))
    assert 'b.png' in record['error']
    record = evaluate_mask_files(MaskFiles('a', gt + '/a.png', gt + '/a.png'))
    assert record['intersection'] == record['union'] == 64
