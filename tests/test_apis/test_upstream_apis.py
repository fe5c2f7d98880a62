"""The chain configs through mmdet's and mmseg's own Python APIs: init_detector +
inference_detector, DetInferencer, init_model + inference_model, MMSegInferencer; with
random upstream weights, the demo refiner and the combined checkpoint of
tools/model_converters/combine_chain_checkpoint.py."""
import numpy as np
import os.path as osp
import pytest
import torch
from mmengine.config import Config

from mmseg_refiner.testing import (DEMO_CHECKPOINT, IMAGE_SHAPE, load_script,
                                   save_upstream_checkpoint, tiny_image, write_det_chain_config,
                                   write_seg_chain_config)

COMBINE_TOOL = 'tools/model_converters/combine_chain_checkpoint.py'


@pytest.fixture(scope='module')
def image_file(tmp_path_factory):
    import cv2
    path = str(tmp_path_factory.mktemp('img') / 'img.png')
    cv2.imwrite(path, tiny_image(0))
    return path


@pytest.fixture(scope='module')
def det_files(tmp_path_factory):
    """(chain config, combined checkpoint) of the Mask R-CNN chain."""
    from mmdet.datasets import CocoDataset
    root = tmp_path_factory.mktemp('det')
    config = write_det_chain_config(str(root / 'chain.py'), str(root))
    detector = save_upstream_checkpoint(config, 'detector', 'mmdet', str(root / 'det.pth'),
                                        CocoDataset.METAINFO['classes'])
    combined = str(root / 'combined.pth')
    assert load_script(COMBINE_TOOL).main([
        config, combined, '--cfg-options', f'model.detector_checkpoint={detector}',
        f'model.refiner_checkpoint={DEMO_CHECKPOINT}'
    ]) == 0
    return config, combined, detector


@pytest.fixture(scope='module')
def seg_files(tmp_path_factory):
    from mmseg.datasets import CityscapesDataset
    root = tmp_path_factory.mktemp('seg')
    config = write_seg_chain_config(str(root / 'chain.py'), str(root))
    segmentor = save_upstream_checkpoint(config, 'segmentor', 'mmseg', str(root / 'seg.pth'),
                                         CityscapesDataset.METAINFO['classes'])
    combined = str(root / 'combined.pth')
    assert load_script(COMBINE_TOOL).main([
        config, combined, '--cfg-options', f'model.segmentor_checkpoint={segmentor}',
        f'model.refiner_checkpoint={DEMO_CHECKPOINT}'
    ]) == 0
    return config, combined, segmentor


def _check_detections(sample):
    pred = sample.pred_instances
    assert len(pred) == 3
    assert pred.masks.shape == (3, *IMAGE_SHAPE) and pred.masks.dtype == torch.bool
    assert pred.coarse_masks.shape == pred.masks.shape


def test_combined_checkpoint_holds_both_parts_and_the_class_names(det_files):
    config, combined, detector = det_files
    checkpoint = torch.load(combined, weights_only=True)
    keys = set(checkpoint['state_dict'])
    det_keys = set(torch.load(detector, weights_only=True)['state_dict'])
    assert {k for k in keys if k.startswith('detector.')} == {f'detector.{k}' for k in det_keys}
    demo = torch.load(DEMO_CHECKPOINT, weights_only=True)['state_dict']
    for key, value in demo.items():
        assert torch.equal(checkpoint['state_dict'][f'refiner.{key}'], value), key
    assert checkpoint['meta']['dataset_meta']['classes'][0] == 'person'


def test_init_detector_and_inference_detector(det_files, image_file):
    from mmdet.apis import inference_detector, init_detector
    config, combined, _ = det_files
    # The combined checkpoint: nothing else is read (the settings point nowhere).
    cfg = Config.fromfile(config)
    cfg.model.detector_checkpoint = '/nonexistent/detector.pth'
    cfg.model.refiner_checkpoint = '/nonexistent/refiner.pth'
    model = init_detector(cfg, combined, device='cpu')
    assert model.dataset_meta['classes'][0] == 'person'
    sample = inference_detector(model, image_file)
    _check_detections(sample)
    # Deterministic: each sample is seeded from its name (the file's; an array is named by
    # its position), so the same input gives the same masks.
    again = inference_detector(model, image_file)
    assert torch.equal(sample.pred_instances.masks, again.pred_instances.masks)
    from_array = inference_detector(model, tiny_image(0))  # an array instead of a file
    _check_detections(from_array)
    assert torch.equal(from_array.pred_instances.masks,
                       inference_detector(model, tiny_image(0)).pred_instances.masks)

    # No checkpoint: the parts come from their settings (here the refiner's).
    cfg = Config.fromfile(config)
    cfg.model.refiner_checkpoint = DEMO_CHECKPOINT
    from_settings = inference_detector(init_detector(cfg, device='cpu'), image_file)
    assert from_settings.pred_instances.masks.shape == (3, *IMAGE_SHAPE)


def test_det_inferencer(det_files, image_file, tmp_path):
    from mmdet.apis import DetInferencer
    config, combined, _ = det_files
    inferencer = DetInferencer(model=config, weights=combined, device='cpu')
    result = inferencer(
        image_file, out_dir=str(tmp_path), return_datasamples=True, no_save_pred=False)
    _check_detections(result['predictions'][0])
    assert osp.isfile(tmp_path / 'vis' / 'img.png')


def test_init_model_and_inference_model(seg_files, image_file):
    from mmseg.apis import inference_model, init_model
    config, combined, _ = seg_files
    cfg = Config.fromfile(config)
    cfg.model.segmentor_checkpoint = '/nonexistent/segmentor.pth'
    cfg.model.refiner_checkpoint = '/nonexistent/refiner.pth'
    model = init_model(cfg, combined, device='cpu')
    sample = inference_model(model, image_file)
    assert sample.pred_sem_seg.data.shape == (1, *IMAGE_SHAPE)
    assert sample.coarse_sem_seg.data.shape == (1, *IMAGE_SHAPE)
    assert model.dataset_meta['classes'][0] == 'road'


def test_mmseg_inferencer(seg_files, image_file, tmp_path):
    from mmseg.apis import MMSegInferencer
    config, combined, _ = seg_files
    inferencer = MMSegInferencer(model=config, weights=combined, device='cpu')
    result = inferencer(image_file, out_dir=str(tmp_path), return_datasamples=True)
    sample = result if not isinstance(result, dict) else result['predictions']
    sample = sample[0] if isinstance(sample, list) else sample
    assert sample.pred_sem_seg.data.shape == (1, *IMAGE_SHAPE)
    assert np.asarray(sample.pred_sem_seg.data).size == np.prod(IMAGE_SHAPE)
