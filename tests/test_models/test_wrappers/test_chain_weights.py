"""Where a chain's weights come from: the checkpoint settings, read when first needed; a
checkpoint given to the whole wrapper (combined, refiner-only, published layout); an
error for a refiner without weights."""
import copy
import os.path as osp
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from mmseg_refiner.apis import init_refiner
from mmseg_refiner.models.denoisers import convert_official_state_dict
from mmseg_refiner.registry import MODELS
from mmseg_refiner.testing import DEMO_CHECKPOINT, tiny_segrefiner_cfg, write_det_chain_config


@pytest.fixture(scope='module')
def chain_cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp('chain')
    return Config.fromfile(write_det_chain_config(str(root / 'chain.py'), str(root)))


def _build(chain_cfg, **settings):
    cfg = copy.deepcopy(chain_cfg.model)
    cfg.update(settings)
    with DefaultScope.overwrite_default_scope('mmdet'):  # the chain config's, as in the Runner
        return MODELS.build(cfg)


@pytest.fixture(scope='module')
def parity(shared_reference_dir):
    # a trusted team fixture (holds a Python config dict), hence weights_only=False
    return torch.load(osp.join(shared_reference_dir, 'unet_parity_small.pt'), weights_only=False)


@pytest.fixture(scope='module')
def published_file(parity, tmp_path_factory):
    """A checkpoint in the authors' layout (mmdet-2.x ``denoise_model.*`` keys)."""
    path = str(tmp_path_factory.mktemp('published') / 'published.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=parity['state_dict']), path)
    return path


def test_settings_are_read_when_the_weights_are_needed(chain_cfg):
    model = _build(
        chain_cfg,
        refiner_checkpoint='/nonexistent/refiner.pth',
        detector_checkpoint='/nonexistent/detector.pth')  # building reads nothing
    with pytest.raises(FileNotFoundError, match=r'model\.detector_checkpoint'):
        model.load_weights()


def test_a_refiner_without_weights_is_an_error_naming_the_setting(chain_cfg):
    model = _build(chain_cfg, detector_checkpoint='/nonexistent/detector.pth')
    with pytest.raises(ValueError, match=r'model\.refiner_checkpoint'):  # before the detector
        model.load_weights()
    untrained = _build(chain_cfg, allow_untrained_refiner=True)
    untrained.load_weights()  # explicit opt-out
    assert untrained.weights.loaded == set()


def test_refiner_setting_loads_only_the_refiner(chain_cfg):
    model = _build(chain_cfg, refiner_checkpoint=DEMO_CHECKPOINT)
    before = copy.deepcopy(model.detector.state_dict())
    model.load_weights()
    demo = torch.load(DEMO_CHECKPOINT, weights_only=True)['state_dict']
    for key, value in demo.items():
        assert torch.equal(model.refiner.state_dict()[key], value), key
    for key, value in model.detector.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_a_checkpoint_of_one_part_given_to_the_wrapper_goes_to_that_part(chain_cfg, tmp_path):
    detector_file = str(tmp_path / 'det.pth')
    source = _build(chain_cfg, allow_untrained_refiner=True)
    with torch.no_grad():
        for param in source.detector.parameters():
            param.add_(1.0)
    torch.save(dict(state_dict=source.detector.state_dict()), detector_file)

    # The refiner's checkpoint as the wrapper's (tools/test.py CONFIG REFINER_CKPT): the
    # detector then comes from its setting.
    model = _build(chain_cfg, detector_checkpoint=detector_file)
    load_checkpoint(model, DEMO_CHECKPOINT, map_location='cpu', strict=True)
    assert model.weights.loaded == {'refiner'}
    model.load_weights()
    for key, value in source.detector.state_dict().items():
        assert torch.equal(model.detector.state_dict()[key], value), key

    # The detector's checkpoint as the wrapper's.
    model = _build(chain_cfg, refiner_checkpoint=DEMO_CHECKPOINT)
    load_checkpoint(model, detector_file, map_location='cpu')
    assert model.weights.loaded == {'detector'}


def test_combined_checkpoint_replaces_both_settings(chain_cfg, tmp_path):
    source = _build(chain_cfg, refiner_checkpoint=DEMO_CHECKPOINT)
    source.load_weights()
    path = str(tmp_path / 'combined.pth')
    torch.save(dict(state_dict=source.state_dict()), path)
    model = _build(
        chain_cfg,
        refiner_checkpoint='/nonexistent/r.pth',
        detector_checkpoint='/nonexistent/d.pth')
    load_checkpoint(model, path, map_location='cpu', strict=True)
    model.load_weights()  # reads neither setting
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def _parity_refiner_cfg(parity, mode='instance'):
    cfg = tiny_segrefiner_cfg(mode)
    cfg['denoiser'] = dict(type='DenoiseUNet', **parity['config'])
    return cfg


def _converted_network(parity):
    converted, _ = convert_official_state_dict(parity['state_dict'])
    return converted


def test_published_checkpoint_loads_into_init_refiner(parity, published_file, monkeypatch):
    from mmseg_refiner.models.denoisers import official_checkpoint
    logged = []
    monkeypatch.setattr(official_checkpoint, 'print_log', lambda msg, **kw: logged.append(msg))
    model = init_refiner(Config(dict(model=_parity_refiner_cfg(parity))), published_file)
    with torch.no_grad():
        logits = model.denoiser(parity['inputs'], parity['timesteps'])
    assert torch.allclose(logits, parity['logits'], atol=1e-4)
    [message] = logged
    assert 'published' in message and f'converted {len(_converted_network(parity))} tensors' \
        in message


def test_published_checkpoint_is_a_chain_refiner_checkpoint(parity, published_file, chain_cfg):
    refiner = _parity_refiner_cfg(parity)
    for load in ('setting', 'wrapper'):
        model = _build(
            chain_cfg,
            refiner=refiner,
            refiner_checkpoint=published_file if load == 'setting' else None)
        if load == 'wrapper':
            load_checkpoint(model, published_file, map_location='cpu', strict=True)
        model.load_weights()
        for key, value in _converted_network(parity).items():
            assert torch.equal(model.refiner.denoiser.state_dict()[key], value), (load, key)
