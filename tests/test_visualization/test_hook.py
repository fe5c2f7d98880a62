"""RefinementVisualizationHook on the three kinds of samples this package predicts."""
import cv2
import numpy as np
import os
import os.path as osp
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData
from mmseg.structures import SegDataSample
from types import SimpleNamespace

from mmseg_refiner.registry import HOOKS
from mmseg_refiner.structures import RefineDataSample
from mmseg_refiner.visualization import draw_refinement, sample_masks

SHAPE = (24, 32)


def _box(y0, y1, x0, x1, shape=SHAPE):
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _photo(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)
    path = str(tmp_path / 'photo.png')
    cv2.imwrite(path, image)
    return path, image


def _hook_and_runner(tmp_path, **loaders):
    hook = HOOKS.build(dict(type='RefinementVisualizationHook', draw=True, test_out_dir='vis'))
    runner = SimpleNamespace(work_dir=str(tmp_path), timestamp='ts', iter=0, **loaders)
    hook.before_test(runner)
    return hook, runner, osp.join(str(tmp_path), 'ts', 'vis')


def test_refine_sample_from_file_and_from_its_packed_input(tmp_path):
    hook, runner, out_dir = _hook_and_runner(tmp_path)
    path, photo = _photo(tmp_path)
    coarse, pred, gt = _box(4, 14, 4, 14), _box(6, 18, 6, 18), _box(5, 17, 5, 17)
    sample = RefineDataSample(metainfo=dict(img_path=path))
    sample.coarse_mask = PixelData(data=torch.from_numpy(coarse[None].astype(np.uint8)))
    sample.pred_mask = PixelData(data=torch.from_numpy(pred[None]))
    sample.gt_mask = PixelData(data=torch.from_numpy(gt[None]))
    hook.after_test_iter(runner, 0, dict(data_samples=[sample]), [sample])
    np.testing.assert_array_equal(
        cv2.imread(osp.join(out_dir, 'photo.png')),
        draw_refinement(photo, coarse, pred, gt, changes=True))

    # a synthetic sample names no real file: drawn over its packed (BGR) input
    packed = np.random.default_rng(5).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)
    synthetic = RefineDataSample(metainfo=dict(img_path='synthetic/seed_7.png'))
    synthetic.coarse_mask = sample.coarse_mask
    synthetic.pred_mask = sample.pred_mask
    hook.after_test_iter(runner, 1, dict(inputs=[torch.from_numpy(packed.transpose(2, 0, 1))]),
                         [synthetic])
    np.testing.assert_array_equal(
        cv2.imread(osp.join(out_dir, 'seed_7.png')),
        draw_refinement(packed, coarse, pred, changes=True))
    assert sorted(os.listdir(out_dir)) == ['photo.png', 'seed_7.png']


def test_detections_draw_the_coarse_and_the_refined_instances(tmp_path):
    hook, runner, out_dir = _hook_and_runner(tmp_path)
    path, photo = _photo(tmp_path)
    coarse = np.stack([_box(2, 10, 2, 10), _box(12, 20, 15, 30)])
    refined = np.stack([_box(2, 12, 2, 12), _box(12, 22, 15, 30)])
    sample = DetDataSample(metainfo=dict(img_path=path, ori_shape=SHAPE))
    sample.pred_instances = InstanceData(
        masks=torch.from_numpy(refined), coarse_masks=torch.from_numpy(coarse))
    # ground truth at the test pipeline's (doubled) size: resized back for drawing
    gt = np.stack([
        cv2.resize(m.astype(np.uint8), (64, 48), interpolation=cv2.INTER_NEAREST) for m in refined
    ])
    sample.gt_instances = InstanceData(masks=torch.from_numpy(gt))
    got = sample_masks(sample, SHAPE)
    np.testing.assert_array_equal(got[2], refined)
    hook.after_test_iter(runner, 0, {}, [sample])
    np.testing.assert_array_equal(
        cv2.imread(osp.join(out_dir, 'photo.png')),
        draw_refinement(photo, coarse, refined, refined, changes=True))


def test_segmentation_is_drawn_class_by_class(tmp_path):
    path, _ = _photo(tmp_path)
    coarse = np.zeros(SHAPE, np.int64)
    coarse[:, 16:] = 2
    refined = coarse.copy()
    refined[:4] = 5
    gt = refined.copy()
    gt[-2:] = 255  # ignored
    sample = SegDataSample(metainfo=dict(img_path=path))
    sample.coarse_sem_seg = PixelData(data=torch.from_numpy(coarse[None]))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(refined[None]))
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt[None]))
    got_coarse, got_refined, got_gt = sample_masks(sample, SHAPE)
    np.testing.assert_array_equal(got_coarse, np.stack([coarse == c for c in (0, 2, 5)]))
    np.testing.assert_array_equal(got_refined, np.stack([refined == c for c in (0, 2, 5)]))
    np.testing.assert_array_equal(got_gt, np.stack([gt == c for c in (0, 2, 5)]))


class _Dataset:
    """An mmdet-style dataset: annotations with polygon masks (the pipeline loads none)."""

    def __init__(self, path, classes=('a', 'b')):
        self.metainfo = dict(classes=classes)
        self.infos = [
            dict(
                img_path=path,
                height=SHAPE[0],
                width=SHAPE[1],
                instances=[
                    dict(mask=[[2, 2, 12, 2, 12, 12, 2, 12]], ignore_flag=0),
                    dict(mask=[[20, 2, 30, 2, 30, 12, 20, 12]], ignore_flag=1),  # crowd: not drawn
                ]),
        ]

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, index):
        return self.infos[index]


def test_detections_without_loaded_masks_draw_the_datasets_annotations(tmp_path):
    path, photo = _photo(tmp_path)
    loader = SimpleNamespace(dataset=_Dataset(path))
    hook, runner, out_dir = _hook_and_runner(tmp_path, test_dataloader=loader)
    coarse, refined = _box(2, 10, 2, 10)[None], _box(2, 12, 2, 12)[None]
    sample = DetDataSample(metainfo=dict(img_path=path, ori_shape=SHAPE))
    sample.pred_instances = InstanceData(
        masks=torch.from_numpy(refined), coarse_masks=torch.from_numpy(coarse))
    hook.after_test_iter(runner, 0, {}, [sample])
    from mmseg_refiner.fileio import decode_segmentation
    gt = decode_segmentation([[2, 2, 12, 2, 12, 12, 2, 12]], *SHAPE)[None]
    assert gt.sum() > 0
    np.testing.assert_array_equal(
        cv2.imread(osp.join(out_dir, 'photo.png')),
        draw_refinement(photo, coarse, refined, gt, changes=True))


def test_segmentation_pictures_name_and_count_the_classes_of_each_panel(tmp_path):
    path, photo = _photo(tmp_path)
    loader = SimpleNamespace(dataset=SimpleNamespace(metainfo=dict(classes=tuple('abcdef'))))
    hook, runner, out_dir = _hook_and_runner(tmp_path, test_dataloader=loader)
    coarse = np.zeros(SHAPE, np.int64)
    coarse[:, 16:] = 2
    refined = coarse.copy()
    refined[:4] = 5
    sample = SegDataSample(metainfo=dict(img_path=path))
    sample.coarse_sem_seg = PixelData(data=torch.from_numpy(coarse[None]))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(refined[None]))
    hook.after_test_iter(runner, 0, {}, [sample])
    stacks = [np.stack([m == c for c in (0, 2, 5)]) for m in (coarse, refined)]
    expected = draw_refinement(photo, *stacks, paired_gt=True, names=['a', 'c', 'f'], changes=True)
    np.testing.assert_array_equal(cv2.imread(osp.join(out_dir, 'photo.png')), expected)
    # the legend is a strip under the panels; without names there is none
    assert expected.shape[0] > draw_refinement(
        photo, *stacks, paired_gt=True, changes=True).shape[0]
