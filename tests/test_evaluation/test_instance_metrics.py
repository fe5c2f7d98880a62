"""BoundaryCocoMetric / BoundaryLVISMetric on DetDataSample-like dicts."""
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from instance_data import lvis_gt, perfect_and_shifted, write_json

from mmseg_refiner.evaluation import BoundaryCocoMetric, BoundaryLVISMetric
from mmseg_refiner.registry import METRICS


def _data_samples(results):
    """One DetDataSample-like dict per image, from COCO results (labels = category - 1)."""
    samples = []
    for res in results:
        mask = mask_utils.decode(res['segmentation']).astype(bool)
        x, y, w, h = mask_utils.toBbox(res['segmentation'])
        samples.append(
            dict(
                img_id=res['image_id'],
                ori_shape=mask.shape,
                pred_instances=dict(
                    bboxes=torch.tensor([[x, y, x + w, y + h]]),
                    scores=torch.tensor([res['score']]),
                    labels=torch.tensor([res['category_id'] - 1]),
                    masks=torch.from_numpy(mask)[None])))
    return samples


def _run(metric, samples):
    metric.dataset_meta = dict(classes=('c1', ))
    metric.process({}, samples)
    return metric.evaluate(size=len(samples))


def test_coco_metric_reports_segm_and_boundary_ap(tmp_path):
    gt, results, mask_ap, boundary_ap = perfect_and_shifted()
    metric = METRICS.build(
        dict(
            type='BoundaryCocoMetric',
            ann_file=write_json(tmp_path / 'gt.json', gt),
            metric=['segm', 'boundary'],
            nproc=1))
    assert isinstance(metric, BoundaryCocoMetric)
    scores = _run(metric, _data_samples(results))
    assert scores['coco/segm_mAP'] == pytest.approx(round(mask_ap, 3))
    assert scores['coco/boundary_mAP'] == pytest.approx(round(boundary_ap, 3))
    assert scores['coco/segm_mAP_50'] == 1.0  # both match at mask IoU 0.5
    assert scores['coco/boundary_mAP_50'] == pytest.approx(round(51 / 101, 3))  # one does
    assert {
        'coco/boundary_mAP_75', 'coco/boundary_mAP_s', 'coco/boundary_mAP_m', 'coco/boundary_mAP_l'
    } <= set(scores)


def test_coco_metric_boundary_only_and_classwise(tmp_path):
    gt, results, _, boundary_ap = perfect_and_shifted()
    metric = BoundaryCocoMetric(
        ann_file=write_json(tmp_path / 'gt.json', gt), metric='boundary', classwise=True, nproc=1)
    scores = _run(metric, _data_samples(results))
    assert 'coco/segm_mAP' not in scores
    assert scores['coco/boundary_mAP'] == pytest.approx(round(boundary_ap, 3))
    assert scores['coco/boundary_c1_precision'] == pytest.approx(round(boundary_ap, 3))


def test_lvis_metric_reports_segm_and_boundary_ap_under_numpy2(tmp_path):
    gt, results, mask_ap, boundary_ap = perfect_and_shifted()
    metric = METRICS.build(
        dict(
            type='BoundaryLVISMetric',
            ann_file=write_json(tmp_path / 'lvis.json', lvis_gt(gt)),
            metric=['bbox', 'segm', 'boundary'],
            nproc=1))
    scores = _run(metric, _data_samples(results))
    assert np.__version__ >= '2'
    assert scores['lvis/segm_AP'] == pytest.approx(round(mask_ap, 3))
    assert scores['lvis/boundary_AP'] == pytest.approx(round(boundary_ap, 3))
    assert scores['lvis/segm_APf'] == scores['lvis/segm_AP']  # the one category is frequent
    assert scores['lvis/segm_APr'] == -1.0  # no rare category
    assert 0 < scores['lvis/bbox_AP'] <= 1


def test_lvis_metric_leaves_out_images_the_annotations_lack(tmp_path):
    gt, results, mask_ap, _ = perfect_and_shifted()
    metric = BoundaryLVISMetric(
        ann_file=write_json(tmp_path / 'lvis.json', lvis_gt(gt)), metric='segm', nproc=1)
    stray = dict(results[0], image_id=99)  # an image absent from the annotations
    scores = _run(metric, _data_samples(results + [stray]))
    assert scores['lvis/segm_AP'] == pytest.approx(round(mask_ap, 3))


def test_metrics_reject_unknown_metric_and_lvis_needs_its_annotations(tmp_path):
    gt, _, _, _ = perfect_and_shifted()
    ann_file = write_json(tmp_path / 'gt.json', gt)
    with pytest.raises(KeyError):
        BoundaryCocoMetric(ann_file=ann_file, metric=['segm', 'contour'])
    with pytest.raises(KeyError, match='contour'):
        BoundaryLVISMetric(ann_file=ann_file, metric=['contour'])
    with pytest.raises(ValueError, match='ann_file'):
        BoundaryLVISMetric(metric=['segm'])
