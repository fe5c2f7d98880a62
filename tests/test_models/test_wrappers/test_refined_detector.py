"""RefinedDetector around a real mmdet Mask R-CNN (random weights, tiny input),
built from the shipped chain config."""
import copy
import json
import mmcv
import numpy as np
import os.path as osp
import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets import CocoDataset
from mmdet.datasets.transforms import PackDetInputs, Resize
from mmdet.evaluation import CocoMetric
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData

from mmseg_refiner.models.refiners.instance import expanded_mask_boxes
from mmseg_refiner.registry import MODELS
from mmseg_refiner.testing import TINY_DENOISER, randomize_

CHAIN_CONFIG = 'configs/chains/mask-rcnn_r50_fpn_1x_coco_segrefiner-lr.py'
IMAGE_SHAPE = (100, 120)  # original (H, W); the test pipeline enlarges it to 133x160


def chain_model_cfg(repo_root, refiner_checkpoint=None, min_area=150):
    """The chain config's model with a tiny refiner and a fast random detector."""
    cfg = Config.fromfile(osp.join(repo_root, CHAIN_CONFIG))
    model = copy.deepcopy(cfg.model)
    detector = model.detector
    detector.rpn_head.init_cfg = None
    detector.test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    # Random weights score every class ~1/81: keep a few detections whatever their score.
    detector.test_cfg.rcnn.update(score_thr=0.0, max_per_img=4)
    refiner = model.refiner
    refiner.denoiser = TINY_DENOISER
    refiner.model_size = 32
    refiner.instance_refiner.update(min_area=min_area, batch_size=3)
    model.detector_checkpoint = None
    model.refiner_checkpoint = refiner_checkpoint
    model.allow_untrained_refiner = refiner_checkpoint is None
    return model


@pytest.fixture(scope='module')
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('images') / 'img.png'
    yy, xx = np.mgrid[:IMAGE_SHAPE[0], :IMAGE_SHAPE[1]]
    image = np.stack([xx * 2, yy * 2, (xx + yy)], axis=2).astype(np.uint8)
    mmcv.imwrite(image, str(path))
    return str(path)


@pytest.fixture(scope='module')
def refiner_checkpoint(tmp_path_factory, repo_root):
    """A checkpoint of the tiny refiner with random (non-initial) weights."""
    refiner = MODELS.build(chain_model_cfg(repo_root).refiner)
    randomize_(refiner, seed=1)
    path = tmp_path_factory.mktemp('ckpt') / 'refiner.pth'
    torch.save(dict(state_dict=refiner.state_dict()), path)
    return str(path), refiner.state_dict()


@pytest.fixture(scope='module')
def model(repo_root, refiner_checkpoint):
    torch.manual_seed(0)
    model = MODELS.build(chain_model_cfg(repo_root, refiner_checkpoint[0]))
    # Random mask logits would give ragged masks; a large bias fills each box.
    with torch.no_grad():
        model.detector.roi_head.mask_head.conv_logits.bias.fill_(5.0)
    return model


def mmdet_test_batch(image_file):
    """A batch through mmdet's own test transforms (resize, pack)."""
    results = dict(img_path=image_file, img_id=1)
    for transform in (LoadImageFromFile(), Resize(scale=(160, 160), keep_ratio=True),
                      PackDetInputs(
                          meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                     'scale_factor'))):
        results = transform(results)
    return pseudo_collate([results])


def test_builds_frozen_and_loads_the_refiner_checkpoint(model, refiner_checkpoint):
    assert type(model.detector).__name__ == 'MaskRCNN'
    assert not any(p.requires_grad for p in model.parameters())
    model.load_weights()
    model.train()
    assert not model.detector.training and not model.refiner.training
    for key, value in refiner_checkpoint[1].items():
        assert torch.equal(model.refiner.state_dict()[key], value), key
    with pytest.raises(ValueError, match='only predicts'):
        model.loss(None, None)


def test_predict_returns_refined_masks_of_the_original_size(model, image_file):
    model.eval()
    data = mmdet_test_batch(image_file)
    assert data['data_samples'][0].img_shape == (133, 160)
    outputs = model.test_step(copy.deepcopy(data))
    again = model.test_step(copy.deepcopy(data))
    pred = outputs[0].pred_instances
    assert len(pred) == 4
    assert pred.masks.shape == (4, *IMAGE_SHAPE) and pred.masks.dtype == torch.bool
    assert pred.bboxes.shape == (4, 4) and pred.labels.shape == (4, )
    assert pred.coarse_masks.shape == pred.masks.shape  # the detector's, kept beside
    assert pred.refine_scores.shape == (4, ) and pred.refine_scores.dtype == torch.float32
    assert ((pred.refine_scores >= 0) & (pred.refine_scores <= 1)).all()
    assert torch.equal(pred.masks, again[0].pred_instances.masks)  # test_cfg.seed=0

    # The detector alone: same boxes, labels, scores; masks at the same size.
    det_data = model.detector.data_preprocessor(copy.deepcopy(data), False)
    [detected] = model.detector.predict(det_data['inputs'], det_data['data_samples'])
    for key in ('bboxes', 'labels', 'scores'):
        assert torch.equal(pred[key], detected.pred_instances[key]), key
    assert detected.pred_instances.masks.shape == pred.masks.shape


def test_refiner_sees_crops_of_the_detected_masks_and_output_is_pasted_back(
        model, image_file, monkeypatch):
    data = mmdet_test_batch(image_file)
    det_data = model.detector.data_preprocessor(copy.deepcopy(data), False)
    [detected] = model.detector.predict(det_data['inputs'], det_data['data_samples'])
    coarse = detected.pred_instances.masks
    calls = []

    def all_foreground(images, masks, **kwargs):
        calls.append(images.shape)
        return dict(prob=torch.ones_like(masks), cum_fine=torch.ones_like(masks))

    monkeypatch.setattr(model.refiner, 'refine', all_foreground)
    [out] = model.test_step(copy.deepcopy(data))
    refined = out.pred_instances.masks
    big = coarse.flatten(1).sum(1) >= 150
    assert big.any(), 'the random detector should give at least one mask to refine'
    assert sum(shape[0] for shape in calls) == int(big.sum())
    assert all(shape[0] <= 3 and shape[2:] == (32, 32) for shape in calls)
    for mask, box in zip(refined[big], expanded_mask_boxes(coarse[big], 20).tolist()):
        expected = torch.zeros(IMAGE_SHAPE, dtype=torch.bool)
        expected[box[1]:box[3], box[0]:box[2]] = True
        assert torch.equal(mask, expected)
    assert torch.equal(refined[~big], coarse[~big])


def test_refiner_image_is_the_batch_image_back_at_the_original_size(model, image_file):
    data = model.data_preprocessor(mmdet_test_batch(image_file), False)
    [image] = model._original_images(data['inputs'], data['data_samples'])
    original = torch.from_numpy(mmcv.imread(image_file)).permute(2, 0, 1)
    [expected] = model.refiner.data_preprocessor(dict(inputs=[original]), False)['inputs']
    assert image.shape == (3, *IMAGE_SHAPE)
    # A smooth image survives the pipeline's enlargement and the shrink back.
    interior = (slice(None), slice(2, -2), slice(2, -2))
    assert (image - expected)[interior].abs().max() < 0.05


def test_coco_metric_consumes_the_output(model, image_file, tmp_path):
    classes = CocoDataset.METAINFO['classes']
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(
        json.dumps(
            dict(
                images=[
                    dict(id=1, file_name='img.png', height=IMAGE_SHAPE[0], width=IMAGE_SHAPE[1])
                ],
                categories=[dict(id=i + 1, name=name) for i, name in enumerate(classes)],
                annotations=[
                    dict(
                        id=1,
                        image_id=1,
                        category_id=1,
                        bbox=[10, 10, 50, 40],
                        area=2000,
                        iscrowd=0,
                        segmentation=[[10, 10, 60, 10, 60, 50, 10, 50]])
                ])))
    metric = CocoMetric(
        ann_file=str(ann_file), metric=['bbox', 'segm'], outfile_prefix=str(tmp_path / 'refined'))
    metric.dataset_meta = dict(classes=classes)
    outputs = model.test_step(mmdet_test_batch(image_file))
    metric.process({}, [sample.to_dict() for sample in outputs])
    scores = metric.evaluate(1)
    assert 0.0 <= scores['coco/segm_mAP'] <= 1.0
    written = json.loads((tmp_path / 'refined.segm.json').read_text())
    assert len(written) == 4 and all(r['image_id'] == 1 for r in written)
    assert all(r['segmentation']['size'] == list(IMAGE_SHAPE) for r in written)


def test_bad_configurations_are_refused(repo_root, model, image_file, monkeypatch):
    cfg = chain_model_cfg(repo_root)
    cfg.refiner.test_cfg = dict(mode='whole')
    with pytest.raises(ValueError, match="test_cfg.mode must be 'instance'"):
        MODELS.build(cfg)
    cfg = chain_model_cfg(repo_root, refiner_checkpoint='/nonexistent/refiner.pth')
    with pytest.raises(FileNotFoundError, match=r'/nonexistent/refiner.pth .*model\.refiner_'):
        MODELS.build(cfg).load_weights()
    cfg = chain_model_cfg(repo_root)
    cfg.detector.init_cfg = dict(type='Pretrained', checkpoint='det.pth')
    with pytest.raises(ValueError, match=r"model\.detector_checkpoint='det.pth'"):
        MODELS.build(cfg)

    def boxes_only(inputs, data_samples, rescale=True):
        for sample in data_samples:
            sample.pred_instances = InstanceData(bboxes=torch.zeros(0, 4))
        return data_samples

    monkeypatch.setattr(model.detector, 'predict', boxes_only)
    with pytest.raises(ValueError, match='predicted no masks for .*img.png'):
        model.test_step(mmdet_test_batch(image_file))


def test_the_refiner_network_runs_in_the_refiners_precision(model, image_file):
    model.eval()
    seen = []
    # bf16 runs the network on bf16 weights and input; fp32 is the plain network
    handle = model.refiner.denoiser.register_forward_pre_hook(lambda module, args: seen.append(
        (args[0].dtype, module.input_conv.weight.dtype)))
    try:
        for precision, dtype in (('bf16', torch.bfloat16), ('fp32', torch.float32)):
            expected = (dtype, dtype)
            model.refiner.test_cfg['precision'] = precision
            seen.clear()
            model.test_step(mmdet_test_batch(image_file))
            assert seen and set(seen) == {expected}, (precision, seen)
    finally:
        handle.remove()
        model.refiner.test_cfg['precision'] = 'auto'
