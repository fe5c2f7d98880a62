"""Loading the authors' published weights: key mapping, parity with their
implementation's logits, and the converter CLI."""
import json
import os.path as osp
import pytest
import torch
from mmengine.config import Config

from mmseg_refiner.models.denoisers import (DenoiseUNet, UnknownOfficialKeyError,
                                            convert_official_state_dict)
from mmseg_refiner.registry import MODELS
from mmseg_refiner.testing import load_script
from mmseg_refiner.utils import load_checkpoint_file

PARITY_TOLERANCE = 1e-4


@pytest.fixture(scope='module')
def parity_fixture(shared_reference_dir):
    # a trusted team fixture (holds a Python config dict), hence weights_only=False
    return torch.load(osp.join(shared_reference_dir, 'unet_parity_small.pt'), weights_only=False)


@pytest.fixture(scope='module')
def published_shapes(shared_reference_dir):
    with open(osp.join(shared_reference_dir, 'published_checkpoint_keys.json')) as f:
        return {key: tuple(shape) for key, shape in json.load(f)['keys']}


def _load_cli():
    return load_script('tools/model_converters/convert_official_checkpoint.py')


def _logits(state_dict, fixture):
    net = DenoiseUNet(**fixture['config']).eval()
    net.load_state_dict(state_dict, strict=True)
    with torch.no_grad():
        return net(fixture['inputs'], fixture['timesteps'])


def test_published_keys_map_onto_published_network(published_shapes):
    """LR and HR share these keys: every network key lands with its shape."""
    with torch.device('meta'):
        ours = DenoiseUNet().state_dict()
    fake = {key: torch.empty(shape, device='meta') for key, shape in published_shapes.items()}
    converted, dropped = convert_official_state_dict(fake)
    assert dropped == ['loss_texture.sobel.conv_x.weight', 'loss_texture.sobel.conv_y.weight']
    assert len(converted) + len(dropped) == len(published_shapes)
    assert set(converted) == set(ours)  # no missing, no unexpected
    mismatched = [k for k in converted if converted[k].shape != ours[k].shape]
    assert mismatched == []


@pytest.mark.parametrize(
    'config',
    [
        'configs/segrefiner/segrefiner_unet-128_8xb8-120k_lvis-256.py',  # LR
        'configs/segrefiner/segrefiner_unet-128_8xb8-40k_dis5k-thin-256.py',  # HR
    ])
def test_converted_keys_are_exactly_the_segrefiner_model_keys(config, repo_root, published_shapes):
    with torch.device('meta'):
        model = MODELS.build(Config.fromfile(osp.join(repo_root, config)).model)
    ours = model.state_dict()
    fake = {key: torch.empty(shape, device='meta') for key, shape in published_shapes.items()}
    converted, _ = convert_official_state_dict(fake, target_prefix='denoiser.')
    assert set(converted) == set(ours)
    assert [k for k in converted if converted[k].shape != ours[k].shape] == []


def test_target_prefix_names_segrefiner_keys(published_shapes):
    fake = {key: torch.empty(shape, device='meta') for key, shape in published_shapes.items()}
    plain, _ = convert_official_state_dict(fake)
    prefixed, _ = convert_official_state_dict(fake, target_prefix='denoiser.')
    assert list(prefixed) == ['denoiser.' + k for k in plain]
    assert plain['time_embedding.weight'] is fake['denoise_model.time_embed.weight']
    assert 'decoder.0.blocks.2.attention.qkv.weight' in plain  # deepest level first
    assert 'encoder.5.downsample.conv.weight' not in plain  # the last level keeps its size


def test_unknown_keys_are_refused_by_name():
    state_dict = {
        'denoise_model.input_blocks.0.0.weight': torch.zeros(1),
        'denoise_model.input_blocks.1.0.in_layers.9.weight': torch.zeros(1),
        'roi_head.fc.weight': torch.zeros(1),
    }
    with pytest.raises(UnknownOfficialKeyError) as err:
        convert_official_state_dict(state_dict)
    message = str(err.value)
    assert 'roi_head.fc.weight' in message
    assert 'denoise_model.input_blocks.1.0.in_layers.9.weight' in message
    assert 'denoise_model.input_blocks.0.0.weight' not in message


def test_converted_fixture_reproduces_reference_logits(parity_fixture):
    converted, dropped = convert_official_state_dict(parity_fixture['state_dict'])
    assert dropped == []
    logits = _logits(converted, parity_fixture)
    assert logits.shape == parity_fixture['logits'].shape
    assert (logits - parity_fixture['logits']).abs().max() < PARITY_TOLERANCE


def test_cli_round_trip(parity_fixture, tmp_path, capsys):
    sobel = torch.tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]) / 4
    state_dict = dict(parity_fixture['state_dict'])
    state_dict['loss_texture.sobel.conv_x.weight'] = sobel.view(1, 1, 3, 3)
    state_dict['loss_texture.sobel.conv_y.weight'] = sobel.t().reshape(1, 1, 3, 3)
    published = tmp_path / 'segrefiner_lr_published.pth'
    torch.save(  # the mmdet-2.x (mmcv-1.x) layout
        dict(
            meta=dict(mmdet_version='2.28.2', epoch=1, iter=120000, CLASSES=None),
            state_dict=state_dict,
            optimizer=dict(state={}, param_groups=[dict(lr=1e-4, params=[0])])), published)
    converted_path = tmp_path / 'out' / 'segrefiner_lr.pth'

    _load_cli().main([str(published), str(converted_path)])

    assert 'dropped' in capsys.readouterr().out
    checkpoint = load_checkpoint_file(str(converted_path))
    assert set(checkpoint) == {'state_dict', 'meta'}
    assert checkpoint['meta']['converted_from'] == published.name
    assert len(checkpoint['meta']['dropped_keys']) == 2
    assert all(key.startswith('denoiser.') for key in checkpoint['state_dict'])
    # what a config does: init_cfg=dict(type='Pretrained', checkpoint=..., prefix='denoiser.')
    net = DenoiseUNet(
        **parity_fixture['config'],
        init_cfg=dict(type='Pretrained', checkpoint=str(converted_path), prefix='denoiser.'))
    net.init_weights()
    with torch.no_grad():
        logits = net.eval()(parity_fixture['inputs'], parity_fixture['timesteps'])
    assert (logits - parity_fixture['logits']).abs().max() < PARITY_TOLERANCE


def test_cli_names_the_file_and_the_keys_it_cannot_map(tmp_path, capsys):
    bad = tmp_path / 'detector.pth'
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(1)}), bad)
    assert _load_cli().main([str(bad), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and str(bad) in err and 'backbone.conv1.weight' in err
    assert not (tmp_path / 'out.pth').exists()
