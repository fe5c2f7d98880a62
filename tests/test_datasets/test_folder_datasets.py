"""HR test datasets (BIG, DIS5K, any folder) on tiny trees, and tools/test.py-style runs
that write refined masks and resume after an interruption."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from tiny_models import TINY_DENOISER

from mmseg_refiner.datasets import BIGRefineDataset, DIS5KRefineDataset, MaskFolderDataset
from mmseg_refiner.datasets.refine_base import InvalidSampleError
from mmseg_refiner.fileio import (FOLDER_LOG_NAME, JobChangedError, ResumeLog, file_digest,
                                  files_digest, relative_name, write_mask_png)
from mmseg_refiner.registry import HOOKS

PIPELINE_WITH_GT = [
    dict(type='LoadRefineImage'),
    dict(type='LoadMaskFromFile', key='coarse_mask', path_key='coarse_path', allow_empty=True),
    dict(type='LoadMaskFromFile', key='gt_mask', path_key='mask_path', allow_empty=True),
    dict(
        type='PackRefineInputs',
        meta_keys=('img_path', 'mask_path', 'coarse_path', 'out_path', 'subset', 'ori_shape')),
]
PIPELINE_NO_GT = [PIPELINE_WITH_GT[0], PIPELINE_WITH_GT[1], PIPELINE_WITH_GT[3]]


@pytest.fixture(autouse=True)
def mmseg_refiner_scope():
    """Pipelines name our transforms without a scope prefix, as configs do."""
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        yield


def write_sample(img_path, mask_paths, shape, seed):
    """An image with a square object, and its mask (0/255) at each of ``mask_paths``."""
    rng = np.random.default_rng(seed)
    h, w = shape
    img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:3 * h // 4, w // 5:w // 2 + seed] = 255
    img[mask > 0] += 150
    for path in [img_path, *mask_paths]:
        os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(img_path, img)
    for path in mask_paths:
        cv2.imwrite(path, mask)
    return mask > 0


def make_big_tree(root, shapes=((40, 60), (50, 30), (36, 36))):
    """BIG layout: test/<n>_im.jpg, test/<n>_gt.png; coarse/deeplab/<n>_seg.png."""
    masks = {}
    for index, shape in enumerate(shapes):
        name = f'img{index}'
        masks[name] = write_sample(
            osp.join(root, 'test', f'{name}_im.jpg'), [
                osp.join(root, 'test', f'{name}_gt.png'),
                osp.join(root, 'coarse', 'deeplab', f'{name}_seg.png')
            ], shape, index)
    return masks


def make_dis5k_tree(root, subsets=('DIS-VD', 'DIS-TE1')):
    """DIS5K layout: <subset>/im/<n>.jpg, <subset>/gt/<n>.png; coarse/<subset>/<n>.png."""
    for s, subset in enumerate(subsets):
        for index in range(2):
            name = f'{subset.lower()}_{index}'
            write_sample(
                osp.join(root, subset, 'im', f'{name}.jpg'), [
                    osp.join(root, subset, 'gt', f'{name}.png'),
                    osp.join(root, 'coarse', subset, f'{name}.png')
                ], (30 + s, 40), index)


def test_big_yields_full_resolution_triples(tmp_path):
    root = str(tmp_path / 'BIG')
    masks = make_big_tree(root)
    dataset = BIGRefineDataset(
        data_root=root,
        img_dir='test',
        coarse_dir='coarse/deeplab',
        out_dir=str(tmp_path / 'out'),
        pipeline=PIPELINE_WITH_GT)
    assert len(dataset) == 3
    info = dataset.get_data_info(1)
    assert info['img_path'] == osp.join(root, 'test', 'img1_im.jpg')
    assert info['mask_path'] == osp.join(root, 'test', 'img1_gt.png')
    assert info['coarse_path'] == osp.join(root, 'coarse', 'deeplab', 'img1_seg.png')
    assert info['out_path'] == str(tmp_path / 'out' / 'img1_refine.png')
    for index, name in enumerate(['img0', 'img1', 'img2']):
        item = dataset[index]
        sample = item['data_samples']
        h, w = masks[name].shape
        assert item['inputs'].shape == (3, h, w) and item['inputs'].dtype == torch.uint8
        assert torch.equal(sample.gt_mask.data[0].bool(), torch.from_numpy(masks[name]))
        assert torch.equal(sample.coarse_mask.data[0].bool(), torch.from_numpy(masks[name]))
        assert sample.out_path.endswith(f'{name}_refine.png')


def test_dis5k_reads_every_subset(tmp_path):
    root = str(tmp_path / 'DIS5K')
    make_dis5k_tree(root)
    dataset = DIS5KRefineDataset(
        data_root=root,
        img_dir='',
        coarse_dir='coarse',
        subsets=('DIS-VD', 'DIS-TE1'),
        out_dir=str(tmp_path / 'out'),
        pipeline=PIPELINE_WITH_GT)
    assert len(dataset) == 4
    infos = [dataset.get_data_info(i) for i in range(4)]
    assert [info['subset'] for info in infos] == ['DIS-VD', 'DIS-VD', 'DIS-TE1', 'DIS-TE1']
    assert infos[2]['img_path'] == osp.join(root, 'DIS-TE1', 'im', 'dis-te1_0.jpg')
    assert infos[2]['mask_path'] == osp.join(root, 'DIS-TE1', 'gt', 'dis-te1_0.png')
    assert infos[2]['coarse_path'] == osp.join(root, 'coarse', 'DIS-TE1', 'dis-te1_0.png')
    assert infos[2]['out_path'] == str(tmp_path / 'out' / 'DIS-TE1' / 'dis-te1_0.png')
    item = dataset[2]
    assert item['inputs'].shape == (3, 31, 40)
    assert item['data_samples'].gt_mask.data.shape == (1, 31, 40)
    assert item['data_samples'].subset == 'DIS-TE1'
    with pytest.raises(FileNotFoundError, match='DIS-TE2'):
        DIS5KRefineDataset(
            data_root=root,
            img_dir='',
            coarse_dir='coarse',
            subsets=('DIS-TE2', ),
            pipeline=PIPELINE_WITH_GT)


def test_folder_dataset_matches_by_name_without_ground_truth(tmp_path):
    for index, ext in enumerate(['.jpg', '.png', '.JPG']):
        write_sample(
            str(tmp_path / 'images' / f'photo{index}{ext}'),
            [str(tmp_path / 'masks' / f'photo{index}_mask.png')], (20, 24), index)
    (tmp_path / 'images' / 'notes.txt').write_text('not an image')
    dataset = MaskFolderDataset(
        img_dir=str(tmp_path / 'images'),
        coarse_dir=str(tmp_path / 'masks'),
        coarse_suffix='_mask.png',
        pipeline=PIPELINE_NO_GT)
    assert [osp.basename(dataset.get_data_info(i)['img_path'])
            for i in range(3)] == ['photo0.jpg', 'photo1.png', 'photo2.JPG']
    sample = dataset[1]['data_samples']
    assert 'gt_mask' not in sample and sample.coarse_mask.data.shape == (1, 20, 24)
    assert 'out_path' not in dataset.get_data_info(0)


def test_missing_and_mismatched_masks_are_named(tmp_path):
    root = str(tmp_path / 'BIG')
    make_big_tree(root)
    os.remove(osp.join(root, 'coarse', 'deeplab', 'img1_seg.png'))
    kwargs = dict(
        data_root=root, img_dir='test', coarse_dir='coarse/deeplab', pipeline=PIPELINE_WITH_GT)
    with pytest.raises(FileNotFoundError, match=r'img1_im\.jpg: missing mask.*img1_seg\.png'):
        BIGRefineDataset(**kwargs)
    dataset = BIGRefineDataset(on_missing='skip', **kwargs)
    assert [osp.basename(dataset.get_data_info(i)['img_path'])
            for i in range(2)] == ['img0_im.jpg', 'img2_im.jpg']
    # A coarse mask of another size: the loader names the file.
    cv2.imwrite(osp.join(root, 'coarse', 'deeplab', 'img2_seg.png'), np.zeros((10, 10), np.uint8))
    with pytest.raises(InvalidSampleError, match=r'img2_seg\.png is 10x10'):
        dataset[1]
    with pytest.raises(ValueError, match='out_dir'):
        BIGRefineDataset(skip_done=True, **kwargs)


def test_skip_done_leaves_out_samples_the_progress_log_has_from_the_same_files(tmp_path):
    root = str(tmp_path / 'BIG')
    make_big_tree(root)
    out = tmp_path / 'out'
    kwargs = dict(data_root=root, img_dir='test', coarse_dir='coarse/deeplab', out_dir=str(out),
                  skip_done=True, pipeline=PIPELINE_WITH_GT)
    first = BIGRefineDataset(**kwargs)
    assert len(first) == 3
    log = ResumeLog(str(out / FOLDER_LOG_NAME), dict(tool='test'), 'delete it')
    log.open()
    for index in (0, 1, 2):
        info = first.get_data_info(index)
        write_mask_png(info['out_path'], np.ones((4, 4)))
        name = relative_name(info['out_path'], str(out))
        log.add(name, files_digest(name, info['img_path'], info['coarse_path']),
                dict(out=file_digest(info['out_path'])))
    assert len(BIGRefineDataset(**kwargs)) == 0
    # an output written over by hand, an edited coarse mask and a file merely present
    # (an interrupted write of another run) are not finished work
    (out / 'img0_refine.png').write_bytes(b'done')
    cv2.imwrite(osp.join(root, 'coarse', 'deeplab', 'img2_seg.png'),
                np.full((30, 40), 255, np.uint8))
    dataset = BIGRefineDataset(**kwargs)
    assert [osp.basename(dataset.get_data_info(i)['img_path'])
            for i in range(len(dataset))] == ['img0_im.jpg', 'img2_im.jpg']


# --- tools/test.py-style runs with the shipped config and a tiny model ----------------


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
    # nothing half-written; the finished mask recorded in the progress log
    assert sorted(os.listdir(out_dir)) == [FOLDER_LOG_NAME, 'img0_refine.png']
    first_mtime = os.stat(osp.join(out_dir, 'img0_refine.png')).st_mtime_ns

    cfg = big_runner_cfg(repo_root, data_root, out_dir, str(tmp_path / 'work2'))
    runner = Runner.from_cfg(cfg)
    assert len(runner.test_dataloader.dataset) == 2  # the finished image is skipped
    metrics = runner.test()
    assert set(metrics) >= {'mask/iou', 'mask/mba', 'mask/coarse_iou', 'mask/coarse_mba'}
    assert metrics['mask/coarse_iou'] == pytest.approx(1.0)  # coarse = ground truth here
    assert sorted(os.listdir(out_dir)) == [FOLDER_LOG_NAME] + [
        f'img{i}_refine.png' for i in range(3)
    ]
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
