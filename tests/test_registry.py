"""Registries: our scope, and look-ups across the mmdet / mmseg scopes."""
import pytest
import textwrap
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from mmseg.registry import MODELS as MMSEG_MODELS

import mmseg_refiner
from mmseg_refiner.registry import METRICS, MODELS, TRANSFORMS


def test_registries_have_our_scope_and_mmengine_parents():
    assert MODELS.scope == 'mmseg_refiner'
    assert MODELS.parent.scope == 'mmengine'
    assert TRANSFORMS.get('PackRefineInputs') is mmseg_refiner.datasets.transforms.PackRefineInputs


def test_our_scope_reaches_upstream_modules():
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        assert MODELS.get('mmdet.MaskRCNN').__module__.startswith('mmdet.')
        assert MODELS.get('mmseg.EncoderDecoder').__module__.startswith('mmseg.')
        assert METRICS.get('mmdet.CocoMetric').__module__.startswith('mmdet.')
        loss = MODELS.build(dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True))
        assert type(loss).__module__.startswith('mmdet.')


@pytest.mark.parametrize('upstream', [MMDET_MODELS, MMSEG_MODELS])
def test_upstream_scopes_reach_our_modules(upstream):
    name = 'SegRefiner'
    with DefaultScope.overwrite_default_scope(upstream.scope):
        found = upstream.get(f'mmseg_refiner.{name}')
    assert found is MODELS.get(name)
    assert found.__module__.startswith('mmseg_refiner.')


def test_config_chaining_mmdet_base_loads_and_builds_in_mmdet_scope(tmp_path):
    cfg_file = tmp_path / 'chain.py'
    cfg_file.write_text(
        textwrap.dedent("""
        _base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
        custom_imports = dict(imports=['mmseg_refiner'], allow_failed_imports=False)
        detector = _base_.model
        detector['_scope_'] = 'mmdet'
        detector['backbone']['init_cfg'] = None
        """))
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.detector.type == 'MaskRCNN'
    assert cfg.detector.roi_head.mask_head.num_classes == 80
    init_default_scope('mmseg_refiner')
    detector = MODELS.build(cfg.detector)
    assert type(detector).__module__.startswith('mmdet.')


def test_config_chaining_mmseg_base_loads(tmp_path):
    cfg_file = tmp_path / 'chain.py'
    cfg_file.write_text(
        textwrap.dedent("""
        _base_ = ['mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py']
        custom_imports = dict(imports=['mmseg_refiner'], allow_failed_imports=False)
        """))
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.model.decode_head.type == 'DepthwiseSeparableASPPHead'
    assert cfg.model.decode_head.num_classes == 19
