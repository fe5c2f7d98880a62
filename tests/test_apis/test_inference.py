"""init_refiner / refine with tiny models, and the shipped demo model."""
import cv2
import numpy as np
import os
import os.path as osp
import pytest
import torch
from torch import nn

from mmseg_refiner.apis import inference as inference_module
from mmseg_refiner.apis import init_refiner, refine, resolve_mode
from mmseg_refiner.evaluation.functional import mask_iou_counts
from mmseg_refiner.testing import DEMO_CONFIG, REPO_ROOT
from mmseg_refiner.utils import UnsafeCheckpointError

TINY = {
    'model.model_size': 32,
    'model.denoiser.model_channels': 8,
    'model.denoiser.channel_mult': (1, 2),
    'model.denoiser.attention_strides': (2, ),
    'model.denoiser.norm_groups': 4,
    'model.instance_refiner.min_area': 16,
    'model.instance_refiner.box_padding': 4,
    'model.global_local_refiner.patch_size': 32,
}


def _iou(a, b):
    inter, union = mask_iou_counts(a, b)
    return inter / union


class MaskEcho(nn.Module):
    """A 'network' that is sure the current mask is right: refinement keeps the coarse mask."""

    def forward(self, x, t):
        return 20 * (x[:, 3:4] - 0.5)


class RedFinder(nn.Module):
    """A 'network' whose foreground is where the (RGB-normalized) image is red, not blue."""

    def forward(self, x, t):
        return 10 * (x[:, 0:1] - x[:, 2:3])


@pytest.fixture(scope='module')
def tiny_model():
    torch.manual_seed(0)
    model = init_refiner(DEMO_CONFIG, cfg_options=TINY)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.2)
    return model


@pytest.fixture
def echo_model():
    model = init_refiner(DEMO_CONFIG, cfg_options=TINY)
    model.denoiser = MaskEcho()
    return model


def _shapes(height=48, width=64):
    """Three masks of different shapes and places."""
    masks = np.zeros((3, height, width), np.uint8)
    masks[0, 5:25, 6:30] = 1
    cv2.circle(masks[1], (45, 30), 12, 1, -1)
    masks[2, 30:46, 2:20] = 255
    return masks


def _image(height=48, width=64):
    return np.random.default_rng(3).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_output_containers_follow_the_input(tiny_model, tmp_path):
    image, masks = _image(), _shapes()
    one = refine(tiny_model, image, masks[0], mode='instance', seed=1)
    assert one.shape == (48, 64) and one.dtype == bool
    stack = refine(tiny_model, image, masks, mode='instance', seed=1)
    assert stack.shape == (3, 48, 64) and stack.dtype == bool
    listed = refine(tiny_model, image, list(masks), mode='instance', seed=1)
    np.testing.assert_array_equal(stack, listed)
    assert refine(tiny_model, image, [masks[0]], mode='instance', seed=1).shape == (1, 48, 64)
    np.testing.assert_array_equal(stack[0], one)  # mask 0 is seeded alike in both
    # the same image and mask from files give the same result: a file's sample
    # name (which seeds it) is its file name
    cv2.imwrite(str(tmp_path / 'img.png'), image)
    cv2.imwrite(str(tmp_path / 'mask.png'), masks[0] * 255)
    from_files = refine(
        tiny_model, str(tmp_path / 'img.png'), str(tmp_path / 'mask.png'), mode='instance', seed=1)
    np.testing.assert_array_equal(
        from_files, refine(tiny_model, image, masks[0], mode='instance', seed=1, name='img.png'))


def test_refine_is_deterministic_by_default(tiny_model):
    image, masks = _image(), _shapes()
    for mode in ('instance', 'global_local'):
        first, first_probs = refine(tiny_model, image, masks, mode=mode, return_probs=True)
        again, again_probs = refine(tiny_model, image, masks, mode=mode, return_probs=True)
        np.testing.assert_array_equal(first_probs, again_probs)


def test_seed_makes_sampling_reproducible(tiny_model):
    image, masks = _image(), _shapes()
    first, first_probs = refine(
        tiny_model, image, masks, mode='global_local', return_probs=True, seed=5)
    again, again_probs = refine(
        tiny_model, image, masks, mode='global_local', return_probs=True, seed=5)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first_probs, again_probs)
    other = refine(tiny_model, image, masks, mode='global_local', return_probs=True, seed=6)[1]
    assert np.abs(other - first_probs).max() > 1e-3


def test_each_mask_comes_back_in_its_place(echo_model):
    image, masks = _image(), _shapes()
    for mode in ('instance', 'global_local'):
        refined = refine(echo_model, image, masks, mode=mode, seed=0)
        for index, mask in enumerate(masks):
            assert _iou(refined[index], mask) > 0.9, (mode, index)
            for other in set(range(3)) - {index}:
                assert _iou(refined[index], masks[other]) < 0.1


def test_image_channels_reach_the_network_in_rgb_order():
    model = init_refiner(DEMO_CONFIG, cfg_options=TINY)
    model.denoiser = RedFinder()
    image = np.full((48, 64, 3), 128, np.uint8)
    image[10:34, 20:50] = (0, 0, 255)  # BGR red
    red = np.zeros((48, 64), bool)
    red[10:34, 20:50] = True
    coarse = np.zeros((48, 64), np.uint8)
    coarse[14:30, 24:46] = 1  # 4 px (box_padding) inside the red rectangle
    for mode in ('instance', 'global_local'):
        refined = refine(model, image, coarse, mode=mode, seed=0)
        assert _iou(refined, red) > 0.9, mode


def test_grey_and_rgba_images_are_converted(tiny_model):
    grey = _image()[..., 0]
    masks = _shapes()
    as_bgr = refine(tiny_model, np.dstack([grey] * 3), masks, mode='instance', seed=2)
    np.testing.assert_array_equal(refine(tiny_model, grey, masks, mode='instance', seed=2), as_bgr)
    np.testing.assert_array_equal(
        refine(tiny_model, grey[..., None], masks, mode='instance', seed=2), as_bgr)
    bgra = np.dstack([_image(), np.zeros((48, 64), np.uint8)])
    np.testing.assert_array_equal(
        refine(tiny_model, bgra, masks, mode='instance', seed=2),
        refine(tiny_model, _image(), masks, mode='instance', seed=2))


@pytest.mark.parametrize('mode', ['global_local', 'instance'])
def test_probabilities_on_request(tiny_model, mode):
    masks = _shapes()
    refined, probs = refine(tiny_model, _image(), masks, mode=mode, return_probs=True, seed=3)
    assert probs.shape == (3, 48, 64) and probs.dtype == np.float32
    assert 0 <= probs.min() and probs.max() <= 1
    assert 0 < probs.mean() < 1
    np.testing.assert_array_equal(refined, probs >= 0.5)
    np.testing.assert_array_equal(refined, refine(tiny_model, _image(), masks, mode=mode, seed=3))


def test_bad_input_errors_name_the_mask(tiny_model):
    image = _image()
    with pytest.raises(ValueError, match='empty list'):
        refine(tiny_model, image, [])
    with pytest.raises(ValueError, match='mask 1 has size 48x63'):
        refine(tiny_model, image, [np.zeros((48, 64)), np.zeros((48, 63))])
    with pytest.raises(ValueError, match='mode must be one of'):
        refine(tiny_model, image, np.zeros((48, 64)), mode='fast')
    with pytest.raises(ValueError, match='uint8'):
        refine(tiny_model, image.astype(np.float32), np.zeros((48, 64)))


def test_hxwx1_mask_gives_one_hxw_mask(tiny_model):
    mask = _shapes()[0][..., None]
    refined = refine(tiny_model, _image(), mask, mode='instance', seed=0)
    assert refined.shape == (48, 64)
    assert np.array_equal(refined,
                          refine(tiny_model, _image(), mask[..., 0], mode='instance', seed=0))


def test_bad_settings_are_refused_before_work(tiny_model, tmp_path):
    from mmseg_refiner.utils import CheckpointError
    from mmseg_refiner.utils.checks import UsageError
    with pytest.raises(UsageError, match='seed -1 is out of range'):
        refine(tiny_model, _image(), _shapes()[0], seed=-1)
    with pytest.raises(UsageError, match="device 'gpu' is not a device"):
        init_refiner(DEMO_CONFIG, cfg_options=TINY, device='gpu')
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match='device cuda: this machine has no cuda device'):
            init_refiner(DEMO_CONFIG, cfg_options=TINY, device='cuda')
    other = tmp_path / 'other.pth'
    torch.save({'state_dict': tiny_model.state_dict()}, other)
    with pytest.raises(CheckpointError, match=r'other.pth does not fit the model SegRefiner'):
        init_refiner(DEMO_CONFIG, str(other))  # the untouched demo config: wider
    with pytest.raises(ValueError, match="unknown key 'model_chanels'"):
        init_refiner(DEMO_CONFIG, cfg_options=dict(TINY, **{'model.denoiser.model_chanels': 8}))


def test_auto_mode_rule():
    assert resolve_mode('auto', (256, 200), 64) == 'instance'
    assert resolve_mode('auto', (100, 257), 64) == 'global_local'
    assert resolve_mode('auto', (640, 480), 256) == 'instance'  # COCO-sized, LR model
    assert resolve_mode('auto', (2048, 1536), 256) == 'global_local'  # BIG / DIS5K-sized
    assert resolve_mode('instance', (4000, 4000), 256) == 'instance'


def test_checkpoint_round_trip_and_config_errors(tiny_model, tmp_path):
    path = tmp_path / 'tiny.pth'
    torch.save({'state_dict': tiny_model.state_dict()}, path)
    loaded = init_refiner(DEMO_CONFIG, str(path), cfg_options=TINY)
    for (name, a), b in zip(tiny_model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    assert not loaded.training
    with pytest.raises(ValueError, match='without its config'):
        init_refiner(checkpoint=str(path))


class _RunsCode:

    def __reduce__(self):
        return (os.system, ('echo pwned', ))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _RunsCode()}, path)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        init_refiner(DEMO_CONFIG, str(path), cfg_options=TINY)


def test_missing_demo_files_are_named(monkeypatch, tmp_path):
    missing = str(tmp_path / 'segrefiner_demo.pth')
    monkeypatch.setattr(inference_module, 'DEMO_CHECKPOINT', missing)
    with pytest.raises(FileNotFoundError, match='segrefiner_demo.pth'):
        init_refiner()


def test_demo_model_beats_the_coarse_mask_on_the_demo_image():
    model = init_refiner()
    image = osp.join(REPO_ROOT, 'demo', 'image.png')
    coarse = cv2.imread(osp.join(REPO_ROOT, 'demo', 'coarse_mask.png'), cv2.IMREAD_GRAYSCALE) > 0
    gt = cv2.imread(osp.join(REPO_ROOT, 'demo', 'gt_mask.png'), cv2.IMREAD_GRAYSCALE) > 0
    refined = refine(model, image, coarse, seed=0)
    assert refined.shape == gt.shape
    assert _iou(refined, gt) > _iou(coarse, gt) + 0.02


def test_precision_argument_sets_the_model_setting(tiny_model):
    fp32 = init_refiner(DEMO_CONFIG, cfg_options=TINY, precision='fp32')
    bf16 = init_refiner(DEMO_CONFIG, cfg_options=TINY, precision='bf16')
    assert init_refiner(DEMO_CONFIG, cfg_options=TINY).test_cfg['precision'] == 'auto'
    assert (fp32.test_cfg['precision'], bf16.test_cfg['precision']) == ('fp32', 'bf16')
    for model in (fp32, bf16):
        model.load_state_dict(tiny_model.state_dict())
    image, masks = _image(), _shapes()
    exact = refine(fp32, image, masks, mode='instance', seed=0, return_probs=True)[1]
    fast = refine(bf16, image, masks, mode='instance', seed=0, return_probs=True)[1]
    assert np.abs(fast - exact).mean() < 0.05
    with pytest.raises(ValueError, match='precision'):
        init_refiner(DEMO_CONFIG, cfg_options=TINY, precision='double')


def test_device_defaults_to_cuda_when_available(monkeypatch):
    from mmseg_refiner.apis import default_device
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert default_device() == 'cpu'
    assert next(init_refiner(DEMO_CONFIG, cfg_options=TINY).parameters()).device.type == 'cpu'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert default_device() == 'cuda'


def test_documented_timesteps_option_runs_three_steps():
    import argparse
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(['--cfg-options',
                                 'model.instance_refiner.timesteps=(5,3,0)']).cfg_options
    model = init_refiner(DEMO_CONFIG, cfg_options={**TINY, **options})
    assert model.instance_refiner.timesteps == (5, 3, 0)
    steps = []
    model.denoiser.register_forward_pre_hook(lambda module, args: steps.append(args[1].tolist()))
    refine(model, _image(), _shapes(), mode='instance', seed=0)
    assert steps == [[5, 5, 5], [3, 3, 3], [0, 0, 0]]
