"""The shipped chain configs through tools/test.py and tools/dist_test.sh (2 CPU processes):
random upstream weights, the demo refiner given as the checkpoint, tiny COCO / Cityscapes sets."""
import cv2
import glob
import os.path as osp
import pickle
import pytest
import re
import sys

from mmseg_refiner.testing import (DEMO_CHECKPOINT, IMAGE_SHAPE, free_port, run_in_repo,
                                   save_upstream_checkpoint, write_det_chain_config,
                                   write_seg_chain_config, write_tiny_cityscapes, write_tiny_coco)


def _figure(pattern, log):
    found = re.findall(pattern, log)
    assert found, log[-3000:]
    return float(found[-1])


def _test(config, work_dir, *extra):
    return run_in_repo([
        sys.executable, 'tools/test.py', config, DEMO_CHECKPOINT, '--work-dir',
        str(work_dir), *extra
    ],
                       timeout=900)


def _dist_test(config, work_dir, *extra):
    log = run_in_repo([
        'bash', 'tools/dist_test.sh', config, DEMO_CHECKPOINT, '2', '--work-dir',
        str(work_dir), *extra
    ],
                      timeout=900,
                      PORT=str(free_port()))
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    return log


def _pictures(work_dir):
    return sorted(glob.glob(osp.join(str(work_dir), '*', 'vis', '*.png')))


@pytest.fixture(scope='module')
def det_chain(tmp_path_factory):
    from mmdet.datasets import CocoDataset
    root = tmp_path_factory.mktemp('coco')
    write_tiny_coco(str(root))
    config = write_det_chain_config(str(root / 'chain.py'), str(root))
    # the same random detector in every process: its weights come from a file
    detector = save_upstream_checkpoint(config, 'detector', 'mmdet', str(root / 'det.pth'),
                                        CocoDataset.METAINFO['classes'])
    return write_det_chain_config(config, str(root), detector)


@pytest.fixture(scope='module')
def seg_chain(tmp_path_factory):
    from mmseg.datasets import CityscapesDataset
    root = tmp_path_factory.mktemp('cityscapes')
    write_tiny_cityscapes(str(root))
    config = write_seg_chain_config(str(root / 'chain.py'), str(root))
    segmentor = save_upstream_checkpoint(config, 'segmentor', 'mmseg', str(root / 'seg.pth'),
                                         CityscapesDataset.METAINFO['classes'])
    return write_seg_chain_config(config, str(root), segmentor)


def test_detector_chain_one_and_two_processes_give_the_same_masks(det_chain, tmp_path):
    single = _test(det_chain, tmp_path / 'one', '--out', str(tmp_path / 'one.pkl'), '--show-dir',
                   'vis')
    assert 'the checkpoint holds the refiner only' in single
    assert 'missing keys' not in single
    double = _dist_test(det_chain, tmp_path / 'two', '--out', str(tmp_path / 'two.pkl'))
    assert _figure(r'coco/segm_mAP: ([0-9.]+)', double) == \
        _figure(r'coco/segm_mAP: ([0-9.]+)', single)

    with open(tmp_path / 'one.pkl', 'rb') as f:
        one = pickle.load(f)
    with open(tmp_path / 'two.pkl', 'rb') as f:
        two = pickle.load(f)
    assert [r['img_id'] for r in one] == [r['img_id'] for r in two] == [1, 2, 3, 4]
    for a, b in zip(one, two):
        assert len(a['pred_instances']['masks']) == 3
        assert [m['counts'] for m in a['pred_instances']['masks']] == \
            [m['counts'] for m in b['pred_instances']['masks']]
        # the coarse masks stay beside the refined ones
        assert tuple(a['pred_instances']['coarse_masks'].shape) == (3, *IMAGE_SHAPE)

    pictures = _pictures(tmp_path / 'one')
    assert [osp.basename(p) for p in pictures] == [f'img_{i}.png' for i in range(4)]
    picture = cv2.imread(pictures[0])
    # image | coarse | refined | ground truth, each enlarged to >= 384 px, captions above
    assert picture.shape[1] >= 4 * 384 and picture.shape[0] > 288


def test_segmentor_chain_one_and_two_processes_give_the_same_miou(seg_chain, tmp_path):
    single = _test(seg_chain, tmp_path / 'one', '--show-dir', 'vis')
    double = _dist_test(seg_chain, tmp_path / 'two')
    assert _figure(r'mIoU: ([0-9.]+)', double) == _figure(r'mIoU: ([0-9.]+)', single)
    assert len(_pictures(tmp_path / 'one')) == 2
