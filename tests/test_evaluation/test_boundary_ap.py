"""Boundary AP under the COCO and LVIS protocols (numpy 2, files in tmp_path)."""
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from instance_data import box_mask, coco_gt, lvis_gt, perfect_and_shifted, result, write_json
from lvis import LVIS, LVISEval
from pycocotools.coco import COCO

from mmseg_refiner.evaluation.functional import (BoundaryCOCOeval, BoundaryLVISEval, run_coco_eval,
                                                 run_lvis_eval, summarize_eval)

# 32x32 images: boundaries are round(0.02 * 45.3) = 1 pixel wide.
THIN_SHAPE = (32, 32)


def _thin_dataset():
    """2-pixel-wide strips: eroding them once leaves nothing, so mask == boundary.

    Detections overlap their strips by various amounts (IoU 1, 18/22, 16/24,
    14/26), plus false positives with high scores, so AP is neither 0 nor 1.
    """
    instances, results = [], []
    for image_id, shift in enumerate((0, 2, 4, 6), start=1):
        gt_strip = box_mask(THIN_SHAPE, 5, 2, 2, 20)
        instances.append((image_id, 1, gt_strip))
        results.append(
            result(image_id, 1, box_mask(THIN_SHAPE, 5, 2 + shift, 2, 20), 0.5 + 0.1 * image_id))
        results.append(result(image_id, 1, box_mask(THIN_SHAPE, 20, 3, 1, 15), 0.95))
    return coco_gt({i: THIN_SHAPE for i in range(1, 5)}, instances), results


def _coco(tmp_path, gt):
    return COCO(write_json(tmp_path / 'gt.json', gt))


def _lvis(tmp_path, gt):
    return LVIS(write_json(tmp_path / 'lvis_gt.json', lvis_gt(gt)))


def test_boundary_ap_equals_mask_ap_when_masks_are_all_boundary(tmp_path):
    gt, results = _thin_dataset()
    coco = _coco(tmp_path, gt)
    segm = summarize_eval(run_coco_eval(coco, results, 'segm'))
    boundary = summarize_eval(run_coco_eval(coco, results, 'boundary'))
    assert 0 < segm['AP'] < 1
    assert boundary == pytest.approx(segm, abs=1e-12)

    lvis = _lvis(tmp_path, gt)
    lvis_segm = summarize_eval(run_lvis_eval(lvis, results, 'segm'))
    lvis_boundary = summarize_eval(run_lvis_eval(lvis, results, 'boundary'))
    assert lvis_boundary == pytest.approx(lvis_segm, abs=1e-12)


@pytest.mark.parametrize('protocol', ['coco', 'lvis'])
def test_boundary_ap_is_lower_for_a_right_area_wrong_edge_prediction(tmp_path, protocol):
    gt, results, mask_ap, boundary_ap = perfect_and_shifted()
    if protocol == 'coco':
        api, run = _coco(tmp_path, gt), run_coco_eval
    else:
        api, run = _lvis(tmp_path, gt), run_lvis_eval
    segm = summarize_eval(run(api, results, 'segm'))
    boundary = summarize_eval(run(api, results, 'boundary'))
    assert segm['AP'] == pytest.approx(mask_ap)
    assert boundary['AP'] == pytest.approx(boundary_ap)
    assert boundary['AP'] < segm['AP']


def test_crowd_regions_keep_mask_iou(tmp_path):
    crowd = box_mask((64, 64), 0, 0, 64, 32)
    person = box_mask((64, 64), 10, 40, 30, 20)
    gt = coco_gt({1: (64, 64)}, [(1, 1, crowd, 1), (1, 1, person)])
    detection = box_mask((64, 64), 12, 12, 30, 40)  # inside the crowd and over the person
    coco = _coco(tmp_path, gt)
    coco_eval = BoundaryCOCOeval(coco, coco.loadRes([result(1, 1, detection, 0.9)]), 'boundary')
    coco_eval.evaluate()
    ious = coco_eval.ious[1, 1]
    det_rle = mask_utils.encode(np.asfortranarray(detection))
    crowd_iou = mask_utils.iou([det_rle], [mask_utils.encode(np.asfortranarray(crowd))], [1])
    assert ious[0, 0] == pytest.approx(crowd_iou[0, 0])
    person_mask_iou = mask_utils.iou([det_rle], [mask_utils.encode(np.asfortranarray(person))],
                                     [0])[0, 0]
    assert ious[0, 1] < person_mask_iou  # the min with a lower boundary IoU


def _random_dataset(seed=0, num_images=8, num_categories=3):
    """Squares of random size, category and position; detections jittered from
    them (some missed, some duplicated) plus false positives, random scores."""
    rng = np.random.default_rng(seed)
    shape = (48, 64)
    instances, results = [], []
    for image_id in range(1, num_images + 1):
        for _ in range(rng.integers(1, 4)):
            cat = int(rng.integers(1, num_categories + 1))
            y, x = int(rng.integers(0, 30)), int(rng.integers(0, 45))
            size = int(rng.integers(4, 18))
            instances.append((image_id, cat, box_mask(shape, y, x, size, size)))
            for _ in range(rng.integers(0, 3)):
                dy, dx, ds = rng.integers(-2, 3, size=3)
                det = box_mask(shape, max(0, y + dy), max(0, x + dx), size + ds, size)
                results.append(result(image_id, cat, det, float(rng.random())))
        for _ in range(rng.integers(0, 3)):
            cat = int(rng.integers(1, num_categories + 1))
            det = box_mask(shape, int(rng.integers(0, 40)), int(rng.integers(0, 56)), 6, 6)
            results.append(result(image_id, cat, det, float(rng.random())))
    return coco_gt({i: shape for i in range(1, num_images + 1)}, instances, num_categories), results


@pytest.mark.parametrize('iou_type', ['segm', 'boundary'])
def test_lvis_protocol_equals_coco_protocol_on_exhaustive_annotations(tmp_path, iou_type):
    gt, results = _random_dataset()
    coco_summary = summarize_eval(run_coco_eval(_coco(tmp_path, gt), results, iou_type))
    lvis_summary = summarize_eval(run_lvis_eval(_lvis(tmp_path, gt), results, iou_type))
    assert 0 < coco_summary['AP'] < 1
    for key, value in coco_summary.items():
        assert lvis_summary[key] == pytest.approx(value, abs=1e-12), key


def test_accumulate_matches_lvis_original(tmp_path, monkeypatch):
    gt, results = _random_dataset(seed=3, num_images=10)
    lvis = _lvis(tmp_path, gt)
    lvis_eval = BoundaryLVISEval(lvis, write_json(tmp_path / 'res.json', results), 'segm')
    lvis_eval.evaluate()
    lvis_eval.accumulate()
    ours = lvis_eval.eval
    # The original needs the alias numpy removed; restore it for this test only.
    monkeypatch.setattr(np, 'float', float, raising=False)
    LVISEval.accumulate(lvis_eval)
    assert (ours['precision'] > -1).any()
    np.testing.assert_array_equal(ours['precision'], lvis_eval.eval['precision'])
    np.testing.assert_array_equal(ours['recall'], lvis_eval.eval['recall'])


def test_lvis_summary_has_frequency_groups(tmp_path):
    gt, results = _random_dataset(seed=5)
    summary = summarize_eval(run_lvis_eval(_lvis(tmp_path, gt), results, 'boundary'))
    assert set(summary) == {'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf'}
    assert all(-1 <= v <= 1 for v in summary.values())


def test_max_dets_keeps_the_best_scored_detections(tmp_path):
    gt, results, _, _ = perfect_and_shifted()
    # A junk detection with a higher score than the good one on image 1.
    junk = result(1, 1, box_mask((64, 64), 50, 50, 5, 5), 0.99)
    lvis = _lvis(tmp_path, gt)
    kept_one = summarize_eval(run_lvis_eval(lvis, results + [junk], 'segm', max_dets=1))
    kept_all = summarize_eval(run_lvis_eval(lvis, results + [junk], 'segm', max_dets=300))
    # Image 1 keeps only the junk: ranked junk (false), shifted (true) gives
    # precision 1/2 up to recall 1/2, i.e. at 51 of the 101 recall points.
    assert kept_one['AP50'] == pytest.approx(0.5 * 51 / 101)
    assert kept_all['AP50'] > kept_one['AP50']
