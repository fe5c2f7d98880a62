"""RefinedSegmentor around a real (tiny, random) mmseg DeepLabV3+."""
import cv2
import numpy as np
import os.path as osp
import pytest
import torch
import torch.nn.functional as F
from mmcv.transforms import LoadImageFromFile, Resize
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope
from mmseg.datasets.transforms import LoadAnnotations, PackSegInputs
from mmseg.evaluation import IoUMetric
from torch import nn

from mmseg_refiner.models.data_preprocessors import RefinerDataPreprocessor
from mmseg_refiner.models.refiners import GlobalLocalRefiner
from mmseg_refiner.models.wrappers import RefinedSegmentor
from mmseg_refiner.testing import tiny_segrefiner_cfg

BN = dict(type='BN')
CHAIN_CONFIG = 'configs/chains/deeplabv3plus_r50-d8_cityscapes_segrefiner-hr.py'


def tiny_deeplabv3plus_cfg(num_classes=3):
    """DeepLabV3+ with a ResNetV1c-18 backbone and narrow heads (random weights)."""
    return ConfigDict(
        type='EncoderDecoder',
        _scope_='mmseg',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255),
        backbone=dict(
            type='ResNetV1c',
            depth=18,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            dilations=(1, 1, 2, 4),
            strides=(1, 2, 1, 1),
            norm_cfg=BN,
            contract_dilation=True),
        decode_head=dict(
            type='DepthwiseSeparableASPPHead',
            in_channels=512,
            in_index=3,
            channels=16,
            dilations=(1, 12, 24, 36),
            c1_in_channels=64,
            c1_channels=8,
            dropout_ratio=0.1,
            num_classes=num_classes,
            norm_cfg=BN,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False)),
        test_cfg=dict(mode='whole'))


class EchoSegRefiner(nn.Module):
    """Stands in for SegRefiner: the 'network' returns its input mask."""

    def __init__(self, model_size=64, global_local_refiner=None):
        super().__init__()
        self.init_cfg = None
        self.test_cfg = dict(mode='global_local')
        self.data_preprocessor = RefinerDataPreprocessor()
        self.model_size = model_size
        self.global_local_refiner = global_local_refiner or GlobalLocalRefiner()
        self.images = []

    def sample_seeds(self, data_samples):
        return [None] * len(data_samples)

    def refine(self,
               images,
               coarse,
               timesteps=None,
               cum_fine=None,
               generator=None,
               next_timestep=-1):
        self.images.append(images.clone())
        edge = F.max_pool2d(coarse, 3, 1, 1) + F.max_pool2d(-coarse, 3, 1, 1)
        return dict(prob=coarse.clone(), cum_fine=1 - 0.5 * edge)


def scene_image():
    """64x64 BGR image with three flat regions (the segmentor sees structure)."""
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, 32:] = (200, 180, 160)
    img[40:, :] = (30, 90, 150)
    return img


def tiny_segmentor():
    """The tiny DeepLabV3+ with a random classifier whose mean logits on the test
    image are equal, so its prediction there has several classes."""
    segmentor = ROOT_MODELS.build(tiny_deeplabv3plus_cfg()).eval()
    head = segmentor.decode_head.conv_seg
    with torch.no_grad():
        generator = torch.Generator().manual_seed(0)
        head.weight.copy_(torch.randn(head.weight.shape, generator=generator))
        batch = segmentor.data_preprocessor(pseudo_collate([_pack(scene_image())]), False)
        logits = segmentor.predict(batch['inputs'], batch['data_samples'])[0].seg_logits.data
        head.bias -= logits.flatten(1).mean(1)
    return segmentor


def _pack(img, **meta):
    from mmseg.structures import SegDataSample
    sample = SegDataSample(metainfo=dict(ori_shape=img.shape[:2], img_shape=img.shape[:2], **meta))
    return dict(inputs=torch.from_numpy(img.transpose(2, 0, 1).copy()), data_samples=sample)


def run_pipeline(img_path, transforms):
    results = dict(
        img_path=img_path,
        seg_map_path=img_path.replace('.png', '_gt.png'),
        reduce_zero_label=False,
        seg_fields=[])
    for transform in transforms:
        results = transform(results)
    return results


@pytest.fixture(scope='module')
def segmentor():
    return tiny_segmentor()


@pytest.fixture()
def image_file(tmp_path):
    path = str(tmp_path / 'scene.png')
    cv2.imwrite(path, scene_image())
    return path


def test_echo_refinement_keeps_the_prediction_and_iou_metric_consumes_it(segmentor, image_file):
    echo = EchoSegRefiner(model_size=64)
    model = RefinedSegmentor(allow_untrained_refiner=True, segmentor=segmentor, refiner=echo)
    packed = run_pipeline(image_file, [LoadImageFromFile(), PackSegInputs()])
    out = model.test_step(pseudo_collate([packed]))[0]
    labels = out.pred_sem_seg.data
    assert labels.shape == (1, 64, 64)
    assert len(labels.unique()) >= 2  # the test needs several classes
    assert torch.equal(labels, out.coarse_sem_seg.data)  # the echo changes nothing
    # the echo's probability is its 0/1 input: 1 under every pixel's own class
    assert torch.equal(out.refine_probs.data, torch.ones(1, 64, 64))
    # The refiner saw the original image, normalized for it (64 = model size).
    original = RefinerDataPreprocessor().normalize(torch.from_numpy(scene_image()).permute(2, 0, 1))
    assert torch.equal(echo.images[0][0], original)

    # Ground truth = this prediction: IoUMetric gives 100 on the refined output.
    cv2.imwrite(image_file.replace('.png', '_gt.png'), labels[0].numpy().astype(np.uint8))
    packed = run_pipeline(image_file, [LoadImageFromFile(), LoadAnnotations(), PackSegInputs()])
    batch = pseudo_collate([packed])
    outputs = model.test_step(batch)
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process(batch, [sample.to_dict() for sample in outputs])
    results = metric.evaluate(1)
    assert results['mIoU'] == 100.0 and results['aAcc'] == 100.0


def test_a_resized_input_is_resized_back_and_a_flipped_one_refused(segmentor, image_file):
    echo = EchoSegRefiner(model_size=64)
    model = RefinedSegmentor(allow_untrained_refiner=True, segmentor=segmentor, refiner=echo)
    packed = run_pipeline(
        image_file,
        [LoadImageFromFile(), Resize(scale=(32, 32)),
         PackSegInputs()])
    assert packed['inputs'].shape == (3, 32, 32)
    out = model.test_step(pseudo_collate([packed]))[0]
    assert out.pred_sem_seg.data.shape == (1, 64, 64)
    # No file is read: the refiner's image is the batch image, normalized, enlarged back.
    small = torch.from_numpy(cv2.resize(scene_image(), (32, 32))).permute(2, 0, 1)
    expected = F.interpolate(
        RefinerDataPreprocessor().normalize(small)[None],
        size=(64, 64),
        mode='bilinear',
        align_corners=False)[0]
    assert torch.allclose(echo.images[0][0], expected, atol=1e-5)

    packed = _pack(scene_image(), flip=True, img_path='scene.png')
    with pytest.raises(ValueError, match='scene.png was flipped'):
        model.test_step(pseudo_collate([packed]))


class ScriptedHR:
    """A global-local refiner returning given probabilities for each class mask."""
    threshold = 0.5

    def __init__(self, labels, probs):
        self.labels, self.probs = labels, probs

    def refine_masks(self, refiner, images, masks, seeds=None):
        for mask in masks:
            yield next((prob >= 0.5, prob) for label, prob in self.probs.items()
                       if torch.equal(mask, self.labels == label))


def test_pixels_take_the_most_probable_refined_class_or_keep_their_label(segmentor):
    labels = torch.tensor([[0, 0, 1, 1], [2, 2, 1, 1]])
    probs = {
        0: torch.tensor([[0.9, 0.4, 0.8, 0.1], [0.1, 0.1, 0.1, 0.1]]),
        1: torch.tensor([[0.2, 0.3, 0.7, 0.9], [0.1, 0.1, 0.2, 0.3]]),
        2: torch.tensor([[0.1, 0.2, 0.1, 0.1], [0.8, 0.4, 0.6, 0.45]]),
    }
    model = RefinedSegmentor(
        allow_untrained_refiner=True,
        segmentor=segmentor,
        refiner=EchoSegRefiner(global_local_refiner=ScriptedHR(labels, probs)))
    [(refined, best)] = model.refine_label_maps([torch.zeros(3, 2, 4)], [labels])
    # (0,1): best 0.4 < 0.5 -> keeps 0; (0,2): class 0 (0.8) beats class 1 (0.7);
    # (1,1), (1,3): nothing reaches 0.5 -> keep; (1,2): class 2 claims it (0.6).
    assert refined.tolist() == [[0, 0, 0, 1], [2, 2, 2, 1]]
    assert torch.equal(best, torch.tensor([[0.9, 0.4, 0.8, 0.9], [0.8, 0.4, 0.6, 0.45]]))


def test_chain_config_builds_in_the_mmseg_scope_and_loads_checkpoints(repo_root, tmp_path,
                                                                      segmentor, image_file):
    cfg = Config.fromfile(osp.join(repo_root, CHAIN_CONFIG))
    assert cfg.model.type == 'mmseg_refiner.RefinedSegmentor'
    assert cfg.model.segmentor.type == 'EncoderDecoder'
    assert cfg.model.segmentor_checkpoint.startswith('https://download.openmmlab.com/')
    assert cfg.model.refiner_checkpoint is None
    assert cfg.model_wrapper_cfg.type == 'MMSeparateDistributedDataParallel'
    assert cfg.model.refiner.test_cfg.mode == 'global_local'
    assert cfg.model.refiner.global_local_refiner.type == 'GlobalLocalRefiner'
    assert cfg.test_evaluator.type == 'IoUMetric'

    # The same config with tiny models and their checkpoints in tmp_path.
    segmentor_ckpt = str(tmp_path / 'segmentor.pth')
    torch.save(dict(state_dict=segmentor.state_dict()), segmentor_ckpt)
    cfg.model.segmentor = tiny_deeplabv3plus_cfg()
    cfg.model.segmentor_checkpoint = segmentor_ckpt
    cfg.model.refiner = ConfigDict(tiny_segrefiner_cfg('global_local', patch_size=48))
    cfg.model.allow_untrained_refiner = True
    with DefaultScope.overwrite_default_scope(cfg.default_scope):  # 'mmseg', as in the Runner
        model = ROOT_MODELS.build(cfg.model)
    assert type(model) is RefinedSegmentor
    model.load_weights()
    for key, value in segmentor.state_dict().items():
        assert torch.equal(model.segmentor.state_dict()[key], value), key
    assert not any(p.requires_grad for p in model.parameters())
    model.train()
    assert not model.segmentor.training and not model.refiner.training

    packed = run_pipeline(image_file, [LoadImageFromFile(), PackSegInputs()])
    out = model.test_step(pseudo_collate([packed]))[0]
    refined, original = out.pred_sem_seg.data, out.coarse_sem_seg.data
    assert refined.shape == (1, 64, 64)
    assert set(refined.unique().tolist()) <= set(original.unique().tolist())

    cfg.model.segmentor_checkpoint = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match=r'missing.pth .*model\.segmentor_checkpoint'):
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            ROOT_MODELS.build(cfg.model).load_weights()


def test_only_predict_a_global_local_refiner_and_an_upstream_preprocessor_are_accepted(segmentor):
    model = RefinedSegmentor(
        allow_untrained_refiner=True, segmentor=segmentor, refiner=EchoSegRefiner())
    with pytest.raises(ValueError, match='only predicts'):
        model(torch.zeros(1, 3, 8, 8), None, mode='loss')
    refiner = EchoSegRefiner()
    refiner.test_cfg = dict(mode='instance')
    with pytest.raises(ValueError, match="test_cfg.mode must be 'global_local', got 'instance'"):
        RefinedSegmentor(allow_untrained_refiner=True, segmentor=segmentor, refiner=refiner)
    segmentor_cfg = tiny_deeplabv3plus_cfg()
    del segmentor_cfg['data_preprocessor']
    with pytest.raises(ValueError, match='model.segmentor has no data_preprocessor'):
        RefinedSegmentor(
            allow_untrained_refiner=True, segmentor=segmentor_cfg, refiner=EchoSegRefiner())


def test_a_preprocessor_handed_to_the_chain_changes_nothing_the_segmentor_sees(image_file):
    from mmseg_refiner.models.data_preprocessors import RawBatchPreprocessor
    packed = run_pipeline(image_file, [LoadImageFromFile(), PackSegInputs()])
    outputs = []
    for handed in (None, dict(type='mmseg.SegDataPreProcessor', mean=[1, 2, 3], std=[4, 5, 6])):
        torch.manual_seed(0)
        model = RefinedSegmentor(
            allow_untrained_refiner=True,
            segmentor=tiny_deeplabv3plus_cfg(),
            refiner=EchoSegRefiner(),
            data_preprocessor=handed)
        assert type(model.data_preprocessor) is RawBatchPreprocessor
        outputs.append(model.test_step(pseudo_collate([packed]))[0].coarse_sem_seg.data)
    assert torch.equal(*outputs)
