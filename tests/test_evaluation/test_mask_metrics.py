"""IoU and mBA of high-resolution masks: known answers and RefinedMaskMetric."""
import cv2
import math
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmseg_refiner.evaluation import RefinedMaskMetric
from mmseg_refiner.evaluation.functional import (boundary_accuracy, mask_iou_counts, mba_radii,
                                                 summarize_mask_records)
from mmseg_refiner.registry import METRICS
from mmseg_refiner.structures import RefineDataSample


def _left(shape, columns):
    mask = np.zeros(shape, np.uint8)
    mask[:, :columns] = 1
    return mask


def test_radii_follow_cascadepsp():
    assert mba_radii(600, 600) == [1, 1, 2, 2, 3]  # R = 4: 1 + int(0.6 * i)
    assert mba_radii(3000, 3000) == [1, 4, 8, 12, 16]  # R = 20: 1 + int(3.8 * i)
    assert mba_radii(100, 100) == [1, 1, 1, 1, 1]  # R < 1 truncates towards 0


def test_perfect_prediction_scores_one():
    gt = np.zeros((300, 400), np.uint8)
    cv2.circle(gt, (200, 150), 90, 1, -1)
    assert boundary_accuracy(gt, gt) == 1.0
    intersection, union = mask_iou_counts(gt, gt)
    assert intersection == union == gt.sum()


def test_one_pixel_shift_of_a_straight_edge_by_hand():
    # A vertical edge: the band of radius r is the 2r columns around it; a
    # prediction one column too wide is wrong in one of them: (2r - 1) / 2r.
    gt, pred = _left((300, 300), 150), _left((300, 300), 151)
    assert boundary_accuracy(pred, gt) == pytest.approx(0.5)  # radii all 1
    gt, pred = _left((600, 600), 300), _left((600, 600), 301)
    expected = np.mean([(2 * r - 1) / (2 * r) for r in (1, 1, 2, 2, 3)])
    assert boundary_accuracy(pred, gt) == pytest.approx(expected)
    intersection, union = mask_iou_counts(pred, gt)
    assert intersection / union == pytest.approx(300 / 301)


def test_one_pixel_boundary_shift_lowers_mba_much_more_than_iou():
    gt = np.zeros((600, 800), np.uint8)
    gt[100:500, 200:600] = 1
    shifted = np.roll(gt, 1, axis=1)
    intersection, union = mask_iou_counts(shifted, gt)
    assert intersection / union > 0.99
    assert boundary_accuracy(shifted, gt) < 0.9
    assert 1 - boundary_accuracy(shifted, gt) > 10 * (1 - intersection / union)


def test_mba_is_undefined_without_a_ground_truth_boundary():
    empty = np.zeros((50, 60), np.uint8)
    assert math.isnan(boundary_accuracy(empty, empty))
    summary = summarize_mask_records([
        dict(intersection=0, union=0, mba=math.nan),
        dict(intersection=10, union=20, mba=0.5),
    ])
    assert summary == dict(iou=0.5, mba=0.5)


def _sample(gt, pred, coarse=None, name='x.jpg'):
    sample = RefineDataSample(metainfo=dict(img_path=name))
    sample.gt_mask = PixelData(data=torch.from_numpy(gt)[None])
    sample.pred_mask = PixelData(data=torch.from_numpy(pred.astype(bool))[None])
    if coarse is not None:
        sample.coarse_mask = PixelData(data=torch.from_numpy(coarse)[None])
    return sample


def test_dataset_iou_is_total_intersection_over_total_union():
    small = np.zeros((40, 40), np.uint8)
    small[:2, :5] = 1  # 10 pixels, predicted exactly: IoU 1
    big_gt = _left((40, 40), 20)
    big_pred = np.zeros((40, 40), np.uint8)
    big_pred[:20, :20] = 1  # half of it: I = 400, U = 800, IoU 0.5
    metric = METRICS.build(dict(type='RefinedMaskMetric'))
    assert isinstance(metric, RefinedMaskMetric)
    metric.process({}, [_sample(small, small).to_dict(), _sample(big_gt, big_pred).to_dict()])
    scores = metric.evaluate(size=2)
    assert scores['mask/iou'] == pytest.approx(410 / 810)  # not the mean, 0.75
    assert set(scores) == {'mask/iou', 'mask/mba'}


def test_metric_reports_coarse_masks_and_keeps_only_scalars():
    gt = _left((300, 300), 150)
    coarse = _left((300, 300), 151)
    metric = RefinedMaskMetric(prefix='big')
    metric.process({}, [_sample(gt, gt, coarse)])  # data elements work as well as dicts
    assert all(np.isscalar(v) for v in metric.results[0].values())
    scores = metric.evaluate(size=1)
    assert scores['big/iou'] == 1.0 and scores['big/mba'] == 1.0
    assert scores['big/coarse_iou'] == pytest.approx(150 / 151)
    assert scores['big/coarse_mba'] == pytest.approx(0.5)


def test_metric_names_the_sample_with_mismatched_masks():
    metric = RefinedMaskMetric()
    with pytest.raises(ValueError, match='broken.jpg'):
        metric.process(
            {}, [_sample(np.zeros((10, 10), np.uint8), np.zeros((10, 12)), name='broken.jpg')])
