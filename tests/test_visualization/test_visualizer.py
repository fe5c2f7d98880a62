"""RefinementVisualizer and RefinementVisualizationHook on hand-made data samples."""
import os
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer

from mmseg_refiner.registry import HOOKS, VISUALIZERS
from mmseg_refiner.structures import RefineDataSample
from mmseg_refiner.visualization import (RefinementVisualizationHook, RefinementVisualizer,
                                         draw_refinement)


def _sample(shape=(24, 32), img_path=None, sample_idx=None):
    coarse = np.zeros(shape, np.uint8)
    coarse[4:14, 4:14] = 1
    pred = np.zeros(shape, bool)
    pred[6:18, 6:18] = True
    sample = RefineDataSample()
    sample.coarse_mask = PixelData(data=torch.from_numpy(coarse[None]))
    sample.pred_mask = PixelData(data=torch.from_numpy(pred[None]))
    meta = {}
    if img_path is not None:
        meta['img_path'] = img_path
    if sample_idx is not None:
        meta['sample_idx'] = sample_idx
    sample.set_metainfo(meta)
    return sample, coarse, pred


def _image_rgb(shape=(24, 32)):
    return np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)


def test_visualizer_draws_rgb_and_writes_png(tmp_path):
    visualizer = VISUALIZERS.build(dict(type='RefinementVisualizer', name='vis_png'))
    sample, coarse, pred = _sample()
    image = _image_rgb()
    drawn = visualizer.draw_sample(image, sample)
    expected_bgr = draw_refinement(image[..., ::-1], coarse, pred)
    np.testing.assert_array_equal(drawn, expected_bgr[..., ::-1])
    out_file = tmp_path / 'out.png'
    visualizer.add_datasample('x', image, sample, out_file=str(out_file))
    written = cv2.imread(str(out_file))
    assert written.shape == (24, 32, 3)
    np.testing.assert_array_equal(written, expected_bgr)


def test_visualizer_resizes_masks_and_needs_a_coarse_mask():
    visualizer = RefinementVisualizer(name='vis_resize', legend=False)
    sample, _, _ = _sample(shape=(12, 16))
    assert visualizer.draw_sample(_image_rgb((24, 32)), sample).shape == (24, 32, 3)
    with pytest.raises(ValueError, match='no coarse_mask'):
        visualizer.draw_sample(_image_rgb(), RefineDataSample())


def test_hook_writes_one_picture_per_test_sample(tmp_path):
    visualizer = RefinementVisualizer.get_instance('vis_hook')
    assert Visualizer.get_current_instance() is visualizer
    hook = HOOKS.build(dict(type='RefinementVisualizationHook', draw=True, test_out_dir='vis'))
    runner = SimpleNamespace(work_dir=str(tmp_path), timestamp='ts', iter=0)
    hook.before_test(runner)
    out_dir = osp.join(tmp_path, 'ts', 'vis')

    # a sample whose image is a file (no packed input in the batch): read from img_path
    photo_bgr = _image_rgb()[..., ::-1].copy()
    cv2.imwrite(str(tmp_path / 'photo.png'), photo_bgr)
    from_file, _, _ = _sample(img_path=str(tmp_path / 'photo.png'))
    hook.after_test_iter(runner, 0, dict(data_samples=[from_file]), [from_file])
    expected = visualizer.draw_sample(photo_bgr[..., ::-1], from_file)[..., ::-1]
    np.testing.assert_array_equal(cv2.imread(osp.join(out_dir, 'photo.png')), expected)

    # a synthetic sample names no real file: drawn over its packed (BGR) input
    packed_bgr = np.random.default_rng(5).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    synthetic, _, _ = _sample(img_path='synthetic/seed_7.png', sample_idx=7)
    packed = [torch.from_numpy(packed_bgr.transpose(2, 0, 1).copy())]
    hook.after_test_iter(runner, 1, dict(inputs=packed), [synthetic])
    expected = visualizer.draw_sample(packed_bgr[..., ::-1], synthetic)[..., ::-1]
    np.testing.assert_array_equal(cv2.imread(osp.join(out_dir, 'seed_7.png')), expected)
    assert sorted(os.listdir(out_dir)) == ['photo.png', 'seed_7.png']


def test_hook_refuses_another_visualizer():
    Visualizer.get_instance('plain_visualizer')
    hook = RefinementVisualizationHook(draw=True, interval=1)
    sample, _, _ = _sample(sample_idx=0)
    with pytest.raises(TypeError, match='RefinementVisualizer'):
        hook.after_val_iter(
            SimpleNamespace(iter=0), 0, dict(inputs=[torch.zeros(3, 24, 32, dtype=torch.uint8)]),
            [sample])


def test_hook_and_visualizer_from_a_config_in_a_test_run(tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(repo, 'configs/segrefiner/segrefiner_unet-tiny_1xb8-3k_synthetic-64.py'))
    cfg.merge_from_dict({
        'model.model_size': 32,
        'model.denoiser.model_channels': 8,
        'model.denoiser.channel_mult': (1, 2),
        'model.denoiser.attention_strides': (2, ),
        'model.denoiser.norm_groups': 4,
    })
    cfg.work_dir = str(tmp_path)
    cfg.test_dataloader = dict(
        batch_size=2,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='SyntheticRefineDataset',
            num_samples=3,
            image_size=32,
            seed_offset=1_000_000,
            fixed_coarse=True,
            test_mode=True,
            pipeline=[dict(type='PackRefineInputs')]))
    cfg.test_evaluator = dict(type='HRMaskMetric')
    cfg.test_cfg = dict(type='TestLoop')
    cfg.visualizer = dict(
        type='RefinementVisualizer',
        vis_backends=[dict(type='LocalVisBackend')],
        name='test_run_visualizer')
    cfg.default_hooks.visualization = dict(
        type='RefinementVisualizationHook', draw=True, test_out_dir='vis')
    runner = Runner.from_cfg(cfg)
    runner.test()
    out_dir = osp.join(tmp_path, runner.timestamp, 'vis')
    names = sorted(os.listdir(out_dir))
    assert names == [f'seed_{seed}.png' for seed in (1_000_000, 1_000_001, 1_000_002)]
    for name in names:
        assert cv2.imread(osp.join(out_dir, name)).shape == (32, 32, 3)
