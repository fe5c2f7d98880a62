"""validate_config: unknown keys of a config or of --cfg-options are named, with the keys
that exist there; every shipped config passes."""
import glob
import os.path as osp
import pytest
from mmengine.config import Config

from mmseg_refiner.apis.config_keys import ConfigKeyError, validate_config
from mmseg_refiner.testing import DEMO_CONFIG, REPO_ROOT
from mmseg_refiner.utils.checks import UsageError

TINY = DEMO_CONFIG
SHIPPED = sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs/segrefiner/*.py')) +
    glob.glob(osp.join(REPO_ROOT, 'configs/chains/*.py')))


@pytest.mark.parametrize('path', SHIPPED, ids=osp.basename)
def test_every_shipped_config_passes(path):
    validate_config(Config.fromfile(path))


def _merged(options):
    cfg = Config.fromfile(TINY)
    cfg.merge_from_dict(options)
    return cfg


def _error(options, **kwargs):
    with pytest.raises(ConfigKeyError) as err:
        validate_config(_merged(options), options, **kwargs)
    return str(err.value)


def test_misspelled_model_key_names_key_class_and_choices():
    message = _error({'model.denoiser.model_chanels': 8})
    assert 'model.denoiser: unknown key \'model_chanels\'; did you mean \'model_channels\'' \
        in message
    assert 'DenoiseUNet takes:' in message and 'channel_mult' in message
    assert 'segrefiner_unet-tiny_1xb8-3k_synthetic-64.py with --cfg-options' in message


def test_misspelled_nested_and_section_keys():
    assert "model.global_local_refiner: unknown key 'pach_size'" in _error(
        {'model.global_local_refiner.pach_size': 8})
    assert "train_dataloader: unknown key 'batch_sise'" in _error(
        {'train_dataloader.batch_sise': 2})
    assert "default_hooks.logger: unknown key 'intervall'" in _error(
        {'default_hooks.logger.intervall': 2})
    assert "optim_wrapper.optimizer: unknown key 'learning_rate'" in _error(
        {'optim_wrapper.optimizer.learning_rate': 0.1})
    assert "randomness: unknown key 'sed'" in _error({'randomness.sed': 1})
    assert "train_dataloader.dataset.datasets[0].pipeline[0]: unknown key 'iou_targe'" in _error({
        'train_dataloader.dataset.datasets': [
            dict(
                type='SyntheticRefineDataset',
                num_samples=2,
                pipeline=[dict(type='GenerateCoarseMask', iou_targe=0.8)])
        ]
    })


def test_top_level_keys():
    message = _error({'optim_wraper.optimizer.lr': 1.0})
    assert "--cfg-options optim_wraper.optimizer.lr: 'optim_wraper' is not a key" in message
    assert "did you mean 'optim_wrapper'" in message and 'train_dataloader' in message
    assert "'max_iters' is not a key" in _error({'max_iters': 10})
    cfg = Config.fromfile(TINY)
    cfg['optim_wraper'] = dict(cfg.optim_wrapper)  # in the file itself
    with pytest.raises(
            ConfigKeyError,
            match="top-level key 'optim_wraper' is not read by the "
            "Runner; did you mean 'optim_wrapper'"):
        validate_config(cfg)
    cfg = Config.fromfile(TINY)
    cfg['my_helper_value'] = 3  # a config variable: fine
    validate_config(cfg)


def test_seeds_in_the_config():
    with pytest.raises(UsageError, match=r'randomness.seed -5 is out of range'):
        validate_config(_merged({'randomness.seed': -5}))
    with pytest.raises(UsageError, match=r'model.test_cfg.seed 4294967296 is out of range'):
        validate_config(_merged({'model.test_cfg.seed': 2**32}))


class _Base:

    def __init__(self, a, b=1):
        self.a, self.b = a, b


class _ForwardsKwargsToBase(_Base):

    def __init__(self, c, **kwargs):
        super().__init__(**kwargs)
        self.c = c


class _KeepsKwargs:

    def __init__(self, c, **kwargs):
        self.c, self.extra = c, dict(kwargs)


def test_keys_of_classes_taking_kwargs_are_left_to_them():
    """``**kwargs`` used by the class itself take any key; ``**kwargs`` only passed to the
    base class take the base's keys, and nothing else."""
    validate_config({'model': dict(type=_KeepsKwargs, c=1, anything=2)}, sections=['model'])
    validate_config({'model': dict(type=_ForwardsKwargsToBase, c=1, a=2, b=3)}, sections=['model'])
    with pytest.raises(
            ConfigKeyError,
            match=r"model: unknown key 'anything' "
            r"\(_ForwardsKwargsToBase takes: a, b, c\)"):
        validate_config({'model': dict(type=_ForwardsKwargsToBase, c=1, a=2, anything=3)},
                        sections=['model'])


def test_with_cfg_options_only_for_a_key_an_option_set(tmp_path):
    config = tmp_path / 'config.py'
    config.write_text(f'_base_ = [{TINY!r}]\nmodel = dict(semantic_refiner=dict())\n')
    cfg = Config.fromfile(str(config))
    options = {'test_dataloader.dataset.num_samples': 1}
    cfg.merge_from_dict(options)
    with pytest.raises(ConfigKeyError) as err:
        validate_config(cfg, options)
    assert str(err.value).startswith(f"config {config}: model: unknown key 'semantic_refiner'; "
                                     f"did you mean 'instance_refiner'? (SegRefiner takes: ")
    options = {'model.semantic_refiner.patch_size': 32}
    cfg.merge_from_dict(options)
    with pytest.raises(
            ConfigKeyError,
            match=f"config {config} with --cfg-options: model: unknown key 'semantic"):
        validate_config(cfg, options)


def test_with_cfg_options_for_a_key_inside_or_around_an_option():
    assert 'with --cfg-options: model.test_cfg: ' in _error({'model.test_cfg.mode': 'semantic'})
    # an option setting a whole list: the key inside it is the option's
    assert 'with --cfg-options: train_dataloader.dataset.datasets[0].pipeline[0]' in _error({
        'train_dataloader.dataset.datasets': [
            dict(
                type='SyntheticRefineDataset',
                num_samples=2,
                pipeline=[dict(type='GenerateCoarseMask', iou_targe=0.8)])
        ]
    })


def test_test_cfg_of_the_model_and_of_a_chain_refiner_is_checked():
    cfg = Config.fromfile(TINY)
    cfg.model.test_cfg = dict(mode='semantic')  # in the file itself
    with pytest.raises(
            ConfigKeyError,
            match=r"config \S+: model.test_cfg: SegRefiner: "
            r"test_cfg.mode must be one of \('whole', 'instance', 'global_local'\), "
            r"got 'semantic'"):
        validate_config(cfg)
    chain = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/chains/mask-rcnn_r50_fpn_1x_coco_segrefiner-lr.py'))
    chain.model.refiner.test_cfg['precison'] = 'fp32'
    with pytest.raises(
            ConfigKeyError,
            match=r"model.refiner.test_cfg: SegRefiner: unknown "
            r"test_cfg key 'precison'; did you mean 'precision'"):
        validate_config(chain)
