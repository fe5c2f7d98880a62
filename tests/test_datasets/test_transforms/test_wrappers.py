"""PairBranches: several training pairs from one loaded sample."""
import numpy as np
from mmengine.registry import DefaultScope

from mmseg_refiner.registry import TRANSFORMS


def _results():
    img = np.zeros((40, 60, 3), np.uint8)
    gt = np.zeros((40, 60), np.uint8)
    gt[10:20, 20:40] = 1
    img[gt > 0] = 255
    return dict(img=img, gt_mask=gt, coarse_mask=gt.copy(), img_path='a.jpg')


def test_each_branch_sees_the_untouched_sample():
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        branches = TRANSFORMS.build(
            dict(
                type='PairBranches',
                branches=[
                    [dict(type='RandomObjectCrop', padding=0),
                     dict(type='PackRefineInputs')],
                    [dict(type='RefineRandomFlip', prob=1.0),
                     dict(type='PackRefineInputs')],
                ]))
    results = _results()
    obj, flipped = branches(results)
    assert obj['inputs'].shape == (3, 10, 20)  # tight crop of the box
    assert obj['data_samples'].crop_bbox == (20, 10, 40, 20)
    assert flipped['inputs'].shape == (3, 40, 60)  # full image: the crop did not leak
    assert flipped['data_samples'].flip and 'crop_bbox' not in flipped['data_samples']
    np.testing.assert_array_equal(flipped['data_samples'].gt_mask.data[0].numpy(),
                                  _results()['gt_mask'][:, ::-1])
    np.testing.assert_array_equal(results['gt_mask'], _results()['gt_mask'])  # input unchanged


def test_a_branch_returning_none_drops_the_sample():
    branches = TRANSFORMS.build(
        dict(type='PairBranches', branches=[[lambda r: r], [lambda r: None]]))
    assert branches(_results()) is None
