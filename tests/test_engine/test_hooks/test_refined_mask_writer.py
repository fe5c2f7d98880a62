"""RefinedMaskWriter in a tools/test.py-style run (the shipped BIG config, a tiny model):
refined masks written atomically, an interrupted run resumed, a changed job refused."""
import cv2
import numpy as np
import os
import os.path as osp
import pytest
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmseg_refiner.fileio import FOLDER_LOG_NAME, JobChangedError
from mmseg_refiner.registry import HOOKS
from mmseg_refiner.testing import TINY_DENOISER, make_big_tree


@HOOKS.register_module(force=True)
class InterruptAfter(Hook):
    """Stops a test run (like Ctrl-C) after ``iters`` iterations."""
    priority = 'LOWEST'

    def __init__(self, iters):
        self.iters = iters

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if batch_idx + 1 >= self.iters:
            raise KeyboardInterrupt


def big_runner_cfg(repo_root, data_root, out_dir, work_dir, extra_hooks=()):
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs/segrefiner/segrefiner_unet-128_big-hr-refine.py'))
    cfg.model.denoiser = dict(TINY_DENOISER)
    cfg.model.model_size = 16
    cfg.model.global_local_refiner.patch_size = 24
    cfg.model.global_local_refiner.min_fg_pixels = 16
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.batch_size = 2  # three images: a full batch, then a partial one
    cfg.test_dataloader.dataset.update(
        data_root=data_root, coarse_dir='coarse/deeplab', out_dir=out_dir)
    cfg.custom_hooks = cfg.custom_hooks + list(extra_hooks)
    cfg.work_dir = work_dir
    return cfg


def test_test_run_writes_refined_masks_and_resumes(repo_root, tmp_path):
    data_root = str(tmp_path / 'BIG')
    masks = make_big_tree(data_root)
    out_dir = str(tmp_path / 'refined')
    cfg = big_runner_cfg(repo_root, data_root, out_dir, str(tmp_path / 'work1'),
                         [dict(type='InterruptAfter', iters=1)])
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).test()
    # nothing half-written; the first batch's masks recorded in the progress log
    assert sorted(os.listdir(out_dir)) == [FOLDER_LOG_NAME, 'img0_refine.png', 'img1_refine.png']
    first_mtime = os.stat(osp.join(out_dir, 'img0_refine.png')).st_mtime_ns

    cfg = big_runner_cfg(repo_root, data_root, out_dir, str(tmp_path / 'work2'))
    runner = Runner.from_cfg(cfg)
    assert len(runner.test_dataloader.dataset) == 1  # the finished images are skipped
    metrics = runner.test()
    assert set(metrics) >= {'mask/iou', 'mask/mba', 'mask/coarse_iou', 'mask/coarse_mba'}
    assert metrics['mask/coarse_iou'] == pytest.approx(1.0)  # coarse = ground truth here
    assert sorted(
        os.listdir(out_dir)) == [FOLDER_LOG_NAME] + [f'img{i}_refine.png' for i in range(3)]
    assert os.stat(osp.join(out_dir, 'img0_refine.png')).st_mtime_ns == first_mtime
    for name, mask in masks.items():
        written = cv2.imread(osp.join(out_dir, f'{name}_refine.png'), cv2.IMREAD_UNCHANGED)
        assert written.shape == mask.shape and written.dtype == np.uint8
        assert set(np.unique(written).tolist()) <= {0, 255}

    # Everything done: a third run has nothing to refine and still finishes.
    cfg = big_runner_cfg(repo_root, data_root, out_dir, str(tmp_path / 'work3'))
    runner = Runner.from_cfg(cfg)
    assert len(runner.test_dataloader.dataset) == 0
    runner.test()

    # Another seed would mix masks of two runs in one folder: refused before any work.
    cfg = big_runner_cfg(repo_root, data_root, out_dir, str(tmp_path / 'work4'))
    cfg.model.test_cfg.seed = 7
    with pytest.raises(JobChangedError, match='another .*seed'):
        Runner.from_cfg(cfg).test()
