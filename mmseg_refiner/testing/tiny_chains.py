"""Tiny COCO / Cityscapes sets on disk and chain configs around the shipped ones, with random
upstream weights and the demo refiner."""
import cv2
import json
import numpy as np
import os
import os.path as osp

from mmseg_refiner.apis.inference import DEMO_CONFIG, REPO_ROOT

DET_CHAIN = osp.join(REPO_ROOT, 'configs/chains/mask-rcnn_r50_fpn_1x_coco_segrefiner-lr.py')
SEG_CHAIN = osp.join(REPO_ROOT, 'configs/chains/deeplabv3plus_r50-d8_cityscapes_segrefiner-hr.py')
IMAGE_SHAPE = (96, 128)


def tiny_image(seed: int) -> np.ndarray:
    """A textured BGR image with a bright disc and a bright box (something to segment)."""
    rng = np.random.default_rng(seed)
    image = (rng.random((*IMAGE_SHAPE, 3)) * 60 + 40).astype(np.uint8)
    cv2.circle(image, (40 + 4 * seed, 48), 22, (230, 210, 190), -1)
    cv2.rectangle(image, (80, 20), (116, 70), (60, 200, 240), -1)
    return image


def write_tiny_coco(root: str, num_images: int = 4) -> str:
    """``root/images/*.png`` and ``root/annotations.json`` (COCO instances); returns ``root``."""
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        name = f'img_{index}.png'
        cv2.imwrite(osp.join(root, 'images', name), tiny_image(index))
        images.append(
            dict(id=index + 1, file_name=name, height=IMAGE_SHAPE[0], width=IMAGE_SHAPE[1]))
        cx = 40 + 4 * index
        disc = [
            float(v) for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)
            for v in (cx + 22 * np.cos(a), 48 + 22 * np.sin(a))
        ]
        for ann_id, (poly, box, category) in enumerate([
            (disc, [cx - 22, 26, 44, 44], 1),
            ([80, 20, 116, 20, 116, 70, 80, 70], [80, 20, 36, 50], 3),
        ]):
            annotations.append(
                dict(
                    id=2 * index + ann_id + 1,
                    image_id=index + 1,
                    category_id=category,
                    segmentation=[poly],
                    area=float(box[2] * box[3]),
                    bbox=box,
                    iscrowd=0))
    from mmdet.datasets import CocoDataset
    categories = [
        dict(id=i + 1, name=name) for i, name in enumerate(CocoDataset.METAINFO['classes'])
    ]
    with open(osp.join(root, 'annotations.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return root


def write_tiny_cityscapes(root: str, num_images: int = 2) -> str:
    """``root/leftImg8bit/val/x/*_leftImg8bit.png`` and the ``gtFine`` label maps."""
    for index in range(num_images):
        stem = f'x_{index:06d}_000019'
        for folder, suffix, array in (
            ('leftImg8bit', '_leftImg8bit.png', tiny_image(index)),
            ('gtFine', '_gtFine_labelTrainIds.png',
             np.where(tiny_image(index)[..., 0] > 150, 13, 0).astype(np.uint8)),
        ):
            os.makedirs(osp.join(root, folder, 'val', 'x'), exist_ok=True)
            cv2.imwrite(osp.join(root, folder, 'val', 'x', stem + suffix), array)
    return root


def demo_refiner_lines(mode: str) -> str:
    """Config lines giving ``refiner``: the demo model's architecture in test mode ``mode``."""
    return (f"_demo = Config.fromfile({DEMO_CONFIG!r}).model.to_dict()\n"
            f"_demo.update(test_cfg=dict(mode={mode!r}, seed=0))\n")


def save_upstream_checkpoint(config: str, part: str, scope: str, path: str, classes) -> str:
    """Random weights of a chain config's upstream model (``part``), saved as a model zoo would."""
    import torch
    from mmengine.config import Config

    from mmseg_refiner.registry import MODELS
    torch.manual_seed(0)
    upstream = MODELS.build(dict(Config.fromfile(config).model[part], _scope_=scope))
    torch.save(
        dict(state_dict=upstream.state_dict(), meta=dict(dataset_meta=dict(classes=classes))), path)
    return path


def write_det_chain_config(path: str, data_root: str, detector_checkpoint=None) -> str:
    """The shipped Mask R-CNN chain on the tiny COCO set: random detector, demo refiner."""
    text = f"""from mmengine.config import Config
_base_ = [{DET_CHAIN!r}]
{demo_refiner_lines('instance')}
model = dict(
    detector=dict(
        rpn_head=dict(init_cfg=None),
        test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50),
                      rcnn=dict(score_thr=0.0, max_per_img=3))),
    refiner=dict(_delete_=True, **_demo),
    detector_checkpoint={detector_checkpoint!r})
del _demo, Config
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root={data_root!r}, ann_file='annotations.json',
                 data_prefix=dict(img='images/'), pipeline=test_pipeline))
test_evaluator = dict(_delete_=True, type='mmdet.CocoMetric',
                      ann_file={osp.join(data_root, 'annotations.json')!r}, metric='segm')
"""
    with open(path, 'w') as f:
        f.write(text)
    return path


def write_seg_chain_config(path: str, data_root: str, segmentor_checkpoint=None) -> str:
    """The shipped DeepLabV3+ chain on the tiny Cityscapes set: random segmentor, demo refiner."""
    text = f"""from mmengine.config import Config
_base_ = [{SEG_CHAIN!r}]
{demo_refiner_lines('global_local')}
model = dict(
    segmentor=dict(backbone=dict(init_cfg=None)),
    refiner=dict(_delete_=True, **_demo),
    segmentor_checkpoint={segmentor_checkpoint!r})
del _demo, Config
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root={data_root!r}, pipeline=test_pipeline))
"""
    with open(path, 'w') as f:
        f.write(text)
    return path
