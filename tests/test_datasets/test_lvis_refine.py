"""LVISRefineDataset on a tiny LVIS-format json with COCO-style image folders."""
import cv2
import json
import numpy as np
import os.path as osp
import pytest
import torch
from mmengine.config import Config

from mmseg_refiner.datasets import InvalidSampleError
from mmseg_refiner.datasets.lvis_refine import image_relative_path
from mmseg_refiner.fileio import decode_segmentation
from mmseg_refiner.fileio import mask_box as mask_bbox
from mmseg_refiner.testing import shrink_recipe, train_two_iterations

URL = 'http://images.cocodataset.org/{}/{:012d}.jpg'
RED, BLUE, GREEN = (0, 0, 255), (255, 0, 0), (0, 255, 0)  # BGR

#: image id -> (COCO folder, height, width)
IMAGES = {1: ('train2017', 240, 320), 2: ('val2017', 200, 260), 3: ('train2017', 120, 160)}


def _polygon_area(polygon):
    xs, ys = np.array(polygon[0::2]), np.array(polygon[1::2])
    return float(abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) / 2)


def _bbox(polygon):
    xs, ys = polygon[0::2], polygon[1::2]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


#: usable instances: (id, image id, colour, polygon)
USABLE = [
    (11, 1, RED, [40, 30, 150, 50, 120, 140, 60, 120]),
    (12, 1, BLUE, [200, 100, 300, 110, 290, 220, 210, 200]),
    (21, 2, GREEN, [5, 10, 90, 5, 100, 80, 20, 70]),  # near the border: the crop is clipped
]


def _annotations():
    anns = [
        dict(
            id=ann_id,
            image_id=image_id,
            category_id=1,
            segmentation=[poly],
            area=_polygon_area(poly),
            bbox=_bbox(poly)) for ann_id, image_id, _, poly in USABLE
    ]
    tiny = [160, 150, 170, 150, 170, 160, 160, 160]  # area 100 <= 512
    anns.append(
        dict(id=13, image_id=1, category_id=1, segmentation=[tiny], area=100.0, bbox=_bbox(tiny)))
    crowd = np.zeros((120, 160), np.uint8)
    crowd[10:100, 10:150] = 1
    anns.append(
        dict(
            id=31,
            image_id=3,
            category_id=1,
            iscrowd=1,
            area=float(crowd.sum()),
            bbox=[10, 10, 140, 90],
            segmentation=dict(size=[120, 160], counts=_uncompressed_rle(crowd))))
    flat = [20, 20, 60, 20, 60, 20.5, 20, 20.5]  # degenerate box (height 0.5), area faked
    anns.append(
        dict(id=32, image_id=3, category_id=1, segmentation=[flat], area=600.0, bbox=_bbox(flat)))
    return anns


def _uncompressed_rle(mask):
    flat = mask.flatten(order='F')
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return np.diff(np.concatenate([[0], changes])).tolist()


@pytest.fixture
def data_root(tmp_path):
    """``<tmp>/data`` with lvis_v1/annotations/lvis_v1_train.json and coco/{train,val}2017."""
    root = tmp_path / 'data'
    images = []
    for image_id, (folder, height, width) in IMAGES.items():
        rng = np.random.RandomState(image_id)
        img = rng.randint(90, 150, (height, width, 3), dtype=np.uint8)  # grey: no pure colour
        for _, owner, colour, poly in USABLE:
            if owner == image_id:
                img[decode_segmentation([poly], height, width) > 0] = colour
        path = root / 'coco' / folder / f'{image_id:012d}.jpg'
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 98])
        images.append(
            dict(id=image_id, height=height, width=width, coco_url=URL.format(folder, image_id)))
    ann_file = root / 'lvis_v1' / 'annotations' / 'lvis_v1_train.json'
    ann_file.parent.mkdir(parents=True)
    ann_file.write_text(
        json.dumps(
            dict(images=images, annotations=_annotations(), categories=[dict(id=1, name='thing')])))
    return root


@pytest.fixture(scope='module')
def dataset_cfg(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, 'configs', '_base_', 'datasets', 'lvis_refine.py'))
    return cfg.train_dataloader.dataset


def _colour_mask(inputs, colour):
    img = inputs.permute(1, 2, 0).numpy().astype(int)
    return np.all(np.abs(img - np.array(colour)) < 70, axis=-1)


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def test_image_path_comes_from_the_coco_url():
    assert image_relative_path(dict(coco_url=URL.format('val2017', 397133))) == \
        'val2017/000000397133.jpg'
    assert image_relative_path(dict(file_name='000000000009.jpg')) == '000000000009.jpg'


def test_keeps_large_non_crowd_instances_and_drops_images_without(build, data_root):
    dataset = build()
    assert len(dataset) == 2  # image 3 has only a crowd and a degenerate box
    infos = {dataset.get_data_info(i)['img_id']: dataset.get_data_info(i) for i in range(2)}
    assert [inst['ann_id'] for inst in infos[1]['instances']] == [11, 12]  # 13 is tiny
    assert [inst['ann_id'] for inst in infos[2]['instances']] == [21]
    assert infos[1]['img_path'] == str(data_root / 'coco' / 'train2017' / '000000000001.jpg')
    assert infos[2]['img_path'] == str(data_root / 'coco' / 'val2017' / '000000000002.jpg')
    assert infos[1]['instances'][0]['bbox'] == [40, 30, 150, 140]


def test_samples_are_aligned_crops_around_the_chosen_instance(build):
    dataset = build()
    np.random.seed(0)
    chosen, flips = set(), set()
    for _ in range(12):
        for index in range(len(dataset)):
            info = dataset.get_data_info(index)
            out = dataset[index]
            sample = out['data_samples']
            assert out['inputs'].shape == (3, 256, 256) and out['inputs'].dtype == torch.uint8
            gt = sample.gt_mask.data[0].numpy() > 0
            coarse = sample.coarse_mask.data[0].numpy() > 0
            assert gt.shape == coarse.shape == (256, 256)
            assert 0.3 < _iou(coarse, gt) < 1.0
            # the ground truth is exactly one of the coloured objects of the image
            matches = [
                (ann_id, poly) for ann_id, owner, colour, poly in USABLE
                if owner == info['img_id'] and _iou(_colour_mask(out['inputs'], colour), gt) > 0.85
            ]
            assert len(matches) == 1
            ann_id, poly = matches[0]
            chosen.add(ann_id)
            flips.add(sample.flip)
            height, width = info['height'], info['width']
            box = mask_bbox(decode_segmentation([poly], height, width))
            x0, y0, x1, y1 = sample.crop_bbox
            assert x0 <= box[0] and y0 <= box[1] and x1 >= box[2] and y1 >= box[3]
            assert x1 - x0 == min(box[2] - box[0] + 40, width)
            assert y1 - y0 == min(box[3] - box[1] + 40, height)
    assert chosen == {11, 12, 21} and flips == {True, False}


def test_bad_images_are_skipped_with_a_warning_and_raise_in_test_mode(build, data_root,
                                                                      warnings_logged):
    (data_root / 'coco' / 'val2017' / '000000000002.jpg').write_bytes(b'\x00 not an image')
    dataset = build()
    np.random.seed(1)
    for _ in range(3):
        assert dataset[1]['data_samples'].img_path.endswith('000000000001.jpg')
    assert any('000000000002.jpg' in m and 'skipped' in m for m in warnings_logged)
    with pytest.raises(InvalidSampleError, match='000000000002.jpg'):
        build(test_mode=True)[1]


def test_image_whose_size_differs_from_its_annotation_is_named(build, data_root, warnings_logged):
    cv2.imwrite(
        str(data_root / 'coco' / 'train2017' / '000000000001.jpg'), np.zeros((100, 100, 3),
                                                                             np.uint8))
    dataset = build()
    np.random.seed(2)
    assert dataset[0]['data_samples'].img_path.endswith('000000000002.jpg')
    assert any('000000000001.jpg is 100x100' in m and '240x320' in m for m in warnings_logged)


def test_a_json_that_is_not_an_instance_file_is_named(build, data_root):
    ann_file = data_root / 'lvis_v1' / 'annotations' / 'lvis_v1_train.json'
    ann_file.write_text(json.dumps(dict(images=[])))
    with pytest.raises(ValueError, match='lvis_v1_train.json'):
        build()


def test_the_lr_config_trains_through_the_runner(build, data_root, repo_root, tmp_path):
    """The paper's LR config, with a tiny network at 64x64, trains on the tiny tree."""
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs', 'segrefiner', 'segrefiner_unet-128_8xb8-120k_lvis-256.py'))
    shrink_recipe(cfg)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = str(data_root.parent)
    # validation on the tiny tree too (standing in for LVIS val), at the end of the run
    cfg.val_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.val_dataloader.dataset.update(
        data_root=str(data_root.parent), ann_file=cfg.train_dataloader.dataset.ann_file, indices=2)
    cfg.visualizer.name = 'test_lvis_refine_runner'
    train_two_iterations(cfg, str(tmp_path / 'work'))
