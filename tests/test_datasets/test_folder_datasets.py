"""HR test datasets (BIG, DIS5K, any folder) on tiny trees."""
import cv2
import numpy as np
import os
import os.path as osp
import pytest
import torch
from mmengine.registry import DefaultScope

from mmseg_refiner.datasets import BIGRefineDataset, DIS5KRefineDataset, MaskFolderDataset
from mmseg_refiner.datasets.refine_base import InvalidSampleError
from mmseg_refiner.fileio import (FOLDER_LOG_NAME, ResumeLog, file_digest, files_digest,
                                  relative_name, write_mask_png)
from mmseg_refiner.testing import make_big_tree, make_dis5k_tree, write_sample

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
    kwargs = dict(
        data_root=root,
        img_dir='test',
        coarse_dir='coarse/deeplab',
        out_dir=str(out),
        skip_done=True,
        pipeline=PIPELINE_WITH_GT)
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
    cv2.imwrite(
        osp.join(root, 'coarse', 'deeplab', 'img2_seg.png'), np.full((30, 40), 255, np.uint8))
    dataset = BIGRefineDataset(**kwargs)
    assert [osp.basename(dataset.get_data_info(i)['img_path'])
            for i in range(len(dataset))] == ['img0_im.jpg', 'img2_im.jpg']
