"""The chains' invariant: their coarse prediction IS the plain upstream model's, on every route.

Four upstream models from the installed wheels' configs, shrunk, with random weights read from
a file (the same in every process): mmdet's Mask R-CNN (R18-FPN) and RTMDet-Ins tiny (its
config given a top-level ``data_preprocessor``, as mmdet's Mask2Former configs have one), and
mmseg's DeepLabV3+ (R18-D8) and SegFormer (MiT-B0), each with the demo refiner. Every model has
a plain config (what an mmdet / mmseg user has) and a chain config built on it as the shipped
chains are (``_base_`` = the plain config, ``model.<upstream> = _base_.model``).

The reference is the plain config run by mmdet's ``init_detector`` + ``inference_detector`` /
mmseg's ``init_model`` + ``inference_model``. The chain's ``coarse_masks`` (with boxes, scores,
labels) / ``coarse_sem_seg`` must equal it exactly, image by image, on the routes:
``tools/test.py`` (the Runner), mmdet's / mmseg's own ``tools/test.py`` (their script, as
shipped in the wheel), ``init_detector`` + ``inference_detector``, ``DetInferencer``,
``init_model`` + ``inference_model``, ``MMSegInferencer`` and ``tools/dist_test.sh`` with 2
processes. The refined prediction must be byte-identical across all of them (sampling is seeded
per image).
"""
import contextlib
import fnmatch
import numpy as np
import os.path as osp
import pickle
import pytest
import sys
import torch
from mmengine.config import Config
from typing import Dict

from mmseg_refiner.models.wrappers import RefinedDetector, RefinedSegmentor
from mmseg_refiner.testing import (DEMO_CHECKPOINT, free_port, load_script, run_in_repo,
                                   write_tiny_cityscapes, write_tiny_coco)

TOOLS_TEST = 'tools/test.py'

#: ``model`` overrides shrinking each upstream config, and the config it shrinks.
MASK_RCNN = ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', """
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=64),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(in_channels=32, conv_out_channels=32)),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50),
                  rcnn=dict(score_thr=0.0, max_per_img=3)))
""")
# Mask2Former's configs define the model's data_preprocessor at the top level and set
# model.data_preprocessor from it: the Runner hands that one to whatever model the config has.
RTMDET_INS = ('mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py', """
data_preprocessor = dict(
    type='DetDataPreprocessor', mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395],
    bgr_to_rgb=False, pad_size_divisor=32)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(init_cfg=None),
    test_cfg=dict(nms_pre=100, score_thr=0.0, max_per_img=3))
""")
DEEPLABV3PLUS = ('mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py', """
model = dict(
    pretrained=None,
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=16, c1_in_channels=64, c1_channels=8),
    auxiliary_head=dict(in_channels=256, channels=16))
""")
SEGFORMER = ('mmseg::segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py', """
model = dict(
    backbone=dict(init_cfg=None),
    decode_head=dict(channels=32),
    test_cfg=dict(mode='whole'))
""")

#: the test pipelines: enlarge (and pad) the 128x96 images, or keep their size
DET_PIPELINE = """
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 160), keep_ratio=True),
    {pad}
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs'),
]
test_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={root!r}, ann_file='annotations.json',
                 data_prefix=dict(img='images/'), pipeline=test_pipeline))
test_evaluator = dict(type='CocoMetric', ann_file={ann!r}, metric='segm')
"""
SEG_PIPELINE = """
test_pipeline = [
    dict(type='LoadImageFromFile'),
    {resize}
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={root!r}, pipeline=test_pipeline))
"""
CHAIN = """_base_ = [{plain!r}]
from mmseg_refiner.configs.segrefiner_refiners import {refiner}  # noqa: E402
custom_imports = dict(imports=['mmseg_refiner'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    type='mmseg_refiner.{chain}',
    {upstream}=_base_.model,
    refiner=dict({refiner}, test_cfg=dict(mode={mode!r}, seed=0, precision='fp32')),
    {upstream}_checkpoint={checkpoint!r},
    refiner_checkpoint={refiner_checkpoint!r},{extra})
del {refiner}
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel', broadcast_buffers=False)
"""


class Case:
    """One upstream model: its plain config, its chain config, the images, the predictions."""

    def __init__(self, name: str, root: str, spec, pipeline: str, images, spread=None):
        self.name = name
        self.kind = 'det' if spec[0].startswith('mmdet') else 'seg'
        self.images = images
        self.plain = osp.join(root, f'{name}.py')
        with open(self.plain, 'w') as f:
            f.write(f'_base_ = [{spec[0]!r}]\n{spec[1]}{pipeline}')
        self.checkpoint = osp.join(root, f'{name}.pth')
        self._save_random_weights(spread or {})
        self.chain = osp.join(root, f'{name}_chain.py')
        det = self.kind == 'det'
        with open(self.chain, 'w') as f:
            f.write(
                CHAIN.format(
                    plain=self.plain,
                    refiner='demo_lr_refiner' if det else 'demo_hr_refiner',
                    chain='RefinedDetector' if det else 'RefinedSegmentor',
                    upstream='detector' if det else 'segmentor',
                    mode='instance' if det else 'global_local',
                    checkpoint=self.checkpoint,
                    refiner_checkpoint=DEMO_CHECKPOINT,
                    # mmdet's init_detector reads model.backbone (as the README says)
                    extra='\n    backbone=dict(init_cfg=None)' if det else ''))
        #: route -> {image name: prediction}
        self.routes: Dict[str, dict] = {}

    def _save_random_weights(self, spread: Dict[str, float]) -> None:
        """Seeded random weights; the parameters matching a pattern of ``spread`` drawn from
        N(0, std) instead, so that the random model predicts varied masks / classes."""
        from mmseg_refiner.registry import MODELS
        cfg = Config.fromfile(self.plain)
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg.model, _scope_='mmdet' if self.kind == 'det' else 'mmseg'))
        with torch.no_grad():
            for name, param in model.named_parameters():
                std = next((v for k, v in spread.items() if fnmatch.fnmatch(name, k)), None)
                if std is not None:
                    param.normal_(0, std)
        if self.kind == 'det':
            from mmdet.datasets import CocoDataset as dataset
        else:
            from mmseg.datasets import CityscapesDataset as dataset
        torch.save(
            dict(
                state_dict=model.state_dict(),
                meta=dict(dataset_meta=dict(classes=dataset.METAINFO['classes']))), self.checkpoint)


def _name(sample) -> str:
    return osp.basename(sample.metainfo['img_path'])


def _as_dict(sample) -> dict:
    """What the tests compare of a prediction (the chain's or the plain model's), on the CPU."""
    if 'pred_instances' in sample:
        pred = sample.pred_instances.cpu()
        out = {key: pred[key].clone() for key in ('bboxes', 'scores', 'labels', 'masks')}
        if 'coarse_masks' in pred:
            out['coarse_masks'] = pred.coarse_masks.clone()
        return out
    out = dict(pred=sample.pred_sem_seg.data.cpu().clone())
    if 'coarse_sem_seg' in sample:
        out['coarse'] = sample.coarse_sem_seg.data.cpu().clone()
    return out


@contextlib.contextmanager
def recorded(case: Case, route: str):
    """Record every prediction the chain makes while in the block under ``route``."""
    chain = RefinedDetector if case.kind == 'det' else RefinedSegmentor
    original = chain.predict
    seen = case.routes.setdefault(route, {})

    def predict(self, inputs, data_samples, *args, **kwargs):
        results = original(self, inputs, data_samples, *args, **kwargs)
        seen.update({_name(sample): _as_dict(sample) for sample in results})
        return results

    chain.predict = predict
    try:
        yield
    finally:
        chain.predict = original
    assert sorted(seen) == sorted(osp.basename(p) for p in case.images), (route, sorted(seen))


def _mm_tool_test(package: str, config: str, checkpoint: str, work_dir: str) -> None:
    """mmdet's / mmseg's own tools/test.py (shipped in the wheel) in this process."""
    import importlib
    root = osp.dirname(importlib.import_module(package).__file__)
    script = osp.join(root, '.mim', 'tools', 'test.py')
    module = load_script(script, f'{package}_tools_test')
    argv = sys.argv
    sys.argv = [script, config, checkpoint, '--work-dir', work_dir]
    try:
        module.main()
    finally:
        sys.argv = argv


def _run_routes(case: Case, tmp) -> None:
    """The reference and every in-process route of ``case``."""
    files = case.images
    if case.kind == 'det':
        from mmdet.apis import DetInferencer, inference_detector, init_detector
        plain = init_detector(case.plain, case.checkpoint, device='cpu')
        case.routes['reference'] = {_name(s): _as_dict(s) for s in inference_detector(plain, files)}
        with recorded(case, 'init_detector'):
            inference_detector(init_detector(case.chain, device='cpu'), files)
        with recorded(case, 'DetInferencer'):
            DetInferencer(model=case.chain, device='cpu')(files, return_datasamples=True)
    else:
        from mmseg.apis import MMSegInferencer, inference_model, init_model
        plain = init_model(case.plain, case.checkpoint, device='cpu')
        case.routes['reference'] = {_name(s): _as_dict(s) for s in inference_model(plain, files)}
        with recorded(case, 'init_model'):
            inference_model(init_model(case.chain, device='cpu'), files)
        with recorded(case, 'MMSegInferencer'):
            MMSegInferencer(model=case.chain, device='cpu')(files, return_datasamples=True)
    with recorded(case, 'tools/test.py'):
        load_script(TOOLS_TEST).run_test([case.chain, 'none', '--work-dir', str(tmp / 'ours')])
    with recorded(case, f'{case.kind} tools/test.py'):
        _mm_tool_test('mmdet' if case.kind == 'det' else 'mmseg', case.chain, DEMO_CHECKPOINT,
                      str(tmp / 'theirs'))


@pytest.fixture(scope='module')
def cases(tmp_path_factory):
    coco = str(tmp_path_factory.mktemp('coco'))
    write_tiny_coco(coco, num_images=2)
    cityscapes = str(tmp_path_factory.mktemp('cityscapes'))
    write_tiny_cityscapes(cityscapes, num_images=2)
    coco_images = [osp.join(coco, 'images', f'img_{i}.png') for i in range(2)]
    city_images = [
        osp.join(cityscapes, 'leftImg8bit', 'val', 'x', f'x_{i:06d}_000019_leftImg8bit.png')
        for i in range(2)
    ]
    root = str(tmp_path_factory.mktemp('configs'))
    ann = osp.join(coco, 'annotations.json')
    det = dict(root=coco, ann=ann)
    # Pad as RTMDet's own test pipeline does: the chain cuts the padding off again.
    pad = "dict(type='Pad', size=(160, 160), pad_val=dict(img=(114, 114, 114))),"
    resize = "dict(type='Resize', scale=(160, 120), keep_ratio=True),"
    all_cases = [
        Case('mask_rcnn', root, MASK_RCNN, DET_PIPELINE.format(pad='', **det), coco_images),
        Case(
            'rtmdet_ins',
            root,
            RTMDET_INS,
            DET_PIPELINE.format(pad=pad, **det),
            coco_images,
            spread={'bbox_head.rtm_kernel.*.bias': 1.0}),
        Case(
            'deeplabv3plus',
            root,
            DEEPLABV3PLUS,
            SEG_PIPELINE.format(resize=resize, root=cityscapes),
            city_images,
            spread={
                'decode_head.conv_seg.weight': 1.0,
                'decode_head.conv_seg.bias': 0.0
            }),
        Case('segformer', root, SEGFORMER, SEG_PIPELINE.format(resize='', root=cityscapes),
             city_images),
    ]
    for case in all_cases:
        _run_routes(case, tmp_path_factory.mktemp(case.name))
    return {case.name: case for case in all_cases}


CASE_NAMES = ['mask_rcnn', 'rtmdet_ins', 'deeplabv3plus', 'segformer']


@pytest.mark.parametrize('name', CASE_NAMES)
def test_the_coarse_prediction_is_the_plain_upstream_models_on_every_route(cases, name):
    case = cases[name]
    reference = case.routes['reference']
    routes = [route for route in case.routes if route != 'reference']
    assert len(routes) == 4
    for route in routes:
        for image, got in case.routes[route].items():
            want = reference[image]
            if case.kind == 'det':
                assert len(want['bboxes']) == 3, 'the random detector should detect 3 objects'
                for key in ('bboxes', 'scores', 'labels'):
                    assert torch.equal(got[key], want[key]), (route, image, key)
                assert torch.equal(got['coarse_masks'], want['masks'].bool()), (route, image)
            else:
                assert torch.equal(got['coarse'], want['pred']), (route, image)


@pytest.mark.parametrize('name', CASE_NAMES)
def test_the_refined_prediction_is_byte_identical_on_every_route(cases, name):
    case = cases[name]
    key = 'masks' if case.kind == 'det' else 'pred'
    first = case.routes['tools/test.py']
    for route, predictions in case.routes.items():
        if route == 'reference':
            continue
        for image, got in predictions.items():
            assert torch.equal(got[key], first[image][key]), (route, image)
    # the refiner changed something (else the test could not tell the routes apart)
    changed = [
        not torch.equal(p[key], p['coarse_masks' if case.kind == 'det' else 'coarse'])
        for p in first.values()
    ]
    assert any(changed), name


def _dumped(sample: dict) -> dict:
    """:func:`_as_dict` of a prediction as ``tools/test.py --out`` pickles it."""
    if 'pred_instances' in sample:
        from pycocotools import mask as mask_utils
        pred = sample['pred_instances']
        out = {key: pred[key] for key in ('bboxes', 'scores', 'labels', 'coarse_masks')}
        out['masks'] = torch.from_numpy(
            np.stack([mask_utils.decode(rle) for rle in pred['masks']]).astype(bool))
        return out
    return dict(pred=sample['pred_sem_seg']['data'], coarse=sample['coarse_sem_seg']['data'])


@pytest.mark.parametrize('name', ['rtmdet_ins', 'deeplabv3plus'])
def test_two_processes_give_the_same_coarse_and_refined_predictions(cases, name, tmp_path):
    case = cases[name]
    out = tmp_path / 'out.pkl'
    log = run_in_repo([
        'bash', 'tools/dist_test.sh', case.chain, 'none', '2', '--work-dir',
        str(tmp_path), '--out',
        str(out)
    ],
                      PORT=str(free_port()))
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    with open(out, 'rb') as f:
        dumped = {osp.basename(s['img_path']): _dumped(s) for s in pickle.load(f)}
    assert sorted(dumped) == sorted(case.routes['reference'])
    reference, single = case.routes['reference'], case.routes['tools/test.py']
    for image, got in dumped.items():
        if case.kind == 'det':
            for key in ('bboxes', 'scores', 'labels'):
                assert torch.equal(got[key], reference[image][key]), (image, key)
            assert torch.equal(got['coarse_masks'], reference[image]['masks']), image
            assert torch.equal(got['masks'], single[image]['masks']), image
        else:
            assert torch.equal(got['coarse'], reference[image]['pred']), image
            assert torch.equal(got['pred'], single[image]['pred']), image
