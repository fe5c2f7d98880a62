"""SegRefiner: the published config, the loss / predict / tensor modes, training."""
import copy
import os.path as osp
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from mmseg_refiner.models.diffusion import DiscreteMaskDiffusion
from mmseg_refiner.models.losses import TextureLoss
from mmseg_refiner.models.refiners import SegRefiner
from mmseg_refiner.registry import MODELS
from mmseg_refiner.structures import RefineDataSample
from mmseg_refiner.testing import randomize_

SIZE = 32
TINY_DENOISER = dict(
    model_channels=8,
    channel_mult=(1, 2),
    num_res_blocks=1,
    attention_strides=(2, ),
    num_heads=2,
    norm_groups=4)


@pytest.fixture(scope='module')
def published_cfg(repo_root):
    return Config.fromfile(osp.join(repo_root, 'configs/_base_/models/segrefiner_unet-128.py'))


def tiny_model_cfg(published_cfg, **overrides):
    cfg = copy.deepcopy(published_cfg.model)
    cfg.denoiser.update(TINY_DENOISER)
    cfg.model_size = SIZE
    for key, value in overrides.items():  # replace, not merge into, the base's sub-dicts
        cfg[key] = value
    return cfg


def build_tiny(published_cfg, **overrides):
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg(published_cfg, **overrides))


def make_batch(batch_size=2, size=SIZE, seed=0):
    """Normalized images and data samples with a disc (gt) and a shifted disc (coarse)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 3, size, size, generator=generator)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    samples = []
    for i in range(batch_size):
        centre = size / 2 + 3 * i
        gt = ((ys - centre)**2 + (xs - size / 2)**2 < (size / 4)**2).to(torch.uint8)
        coarse = ((ys - centre - 3)**2 + (xs - size / 2 + 2)**2 < (size / 4 - 2)**2)
        sample = RefineDataSample(metainfo=dict(img_path=f'img_{i}.jpg'))
        sample.gt_mask = PixelData(data=gt[None])
        sample.coarse_mask = PixelData(data=coarse.to(torch.uint8)[None])
        samples.append(sample)
    return images, samples


def test_published_config_builds_the_published_model(published_cfg):
    """Built on the meta device: no memory, no initialization, 118,604,673 parameters."""
    with DefaultScope.overwrite_default_scope('mmseg_refiner'), torch.device('meta'):
        model = MMENGINE_MODELS.build(published_cfg.model)
    assert isinstance(model, SegRefiner)
    assert sum(p.numel() for p in model.parameters()) == 118_604_673
    assert model.model_size == 256
    assert model.test_cfg == dict(
        mode='whole', seed=0, precision='auto', max_change=None, early_stop=None)
    assert isinstance(model.diffusion, DiscreteMaskDiffusion)
    assert model.diffusion.num_timesteps == 6
    assert isinstance(model.loss_texture, TextureLoss) and model.loss_texture.loss_weight == 5.0
    assert model.loss_mask.use_sigmoid and model.loss_mask.loss_weight == 1.0
    assert model.data_preprocessor.bgr_to_rgb


def test_tiny_override_builds_under_the_default_scope(published_cfg):
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        model = MMENGINE_MODELS.build(tiny_model_cfg(published_cfg))
    assert model.denoiser.model_channels == 8 and model.model_size == SIZE


def test_loss_returns_the_losses_and_a_logged_iou(published_cfg):
    model = build_tiny(published_cfg)
    images, samples = make_batch()
    losses = model.loss(images, samples)
    assert set(losses) == {'loss_mask', 'loss_texture', 'train_iou'}
    assert not losses['train_iou'].requires_grad and 0 <= losses['train_iou'].item() <= 1
    total, log_vars = model.parse_losses(losses)
    assert total.item() == pytest.approx(
        losses['loss_mask'].item() + losses['loss_texture'].item(), rel=1e-6)
    assert 'train_iou' in log_vars
    # zero-initialized output: logits 0 -> BCE = log 2
    assert losses['loss_mask'].item() == pytest.approx(0.6931, abs=1e-4)


def test_gradients_reach_every_network_parameter(published_cfg):
    model = build_tiny(published_cfg)
    randomize_(model.denoiser)
    images, samples = make_batch()
    torch.manual_seed(0)
    total, _ = model.parse_losses(model.loss(images, samples))
    total.backward()
    missing = [
        name for name, param in model.named_parameters()
        if param.grad is None or not param.grad.abs().sum() > 0
    ]
    assert not missing, f'no gradient for {missing}'


def test_a_tiny_model_overfits_one_batch(published_cfg):
    denoiser = dict(published_cfg.model.denoiser, **TINY_DENOISER)
    denoiser['attention_strides'] = ()  # attention-free: about 2x faster
    model = build_tiny(published_cfg, denoiser=denoiser)
    images, samples = make_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    torch.manual_seed(0)
    history = []
    for _ in range(100):
        total, _ = model.parse_losses(model.loss(images, samples))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(total.item())
    first, last = sum(history[:10]) / 10, sum(history[-10:]) / 10
    assert last <= 0.5 * first, (first, last)


def test_predict_writes_pred_mask(published_cfg):
    model = build_tiny(published_cfg).eval()
    randomize_(model.denoiser)
    images, samples = make_batch(batch_size=3)
    results = model.predict(images, samples)
    assert len(results) == 3
    for sample in results:
        pred = sample.pred_mask
        assert pred.data.shape == (1, SIZE, SIZE) and pred.data.dtype == torch.bool
        assert pred.prob.shape == (1, SIZE, SIZE) and pred.prob.dtype == torch.float32
        assert torch.equal(pred.data, pred.prob >= 0.5)
        assert 0 <= pred.prob.min() and pred.prob.max() <= 1
        assert 0 <= pred.cum_fine.min() and pred.cum_fine.max() <= 1


def test_test_step_runs_preprocessor_and_predict(published_cfg):
    model = build_tiny(published_cfg).eval()
    _, samples = make_batch()
    inputs = [torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8) for _ in samples]
    results = model.test_step(dict(inputs=inputs, data_samples=samples))
    assert [s.pred_mask.data.shape for s in results] == [(1, SIZE, SIZE)] * 2


def _predict_probs(model, seed):
    model.test_cfg['seed'] = seed
    images, samples = make_batch()
    return torch.stack([s.pred_mask.prob for s in model.predict(images, samples)])


def test_seeded_sampling_is_reproducible(published_cfg):
    model = build_tiny(published_cfg).eval()
    randomize_(model.denoiser)
    first, again, other = (_predict_probs(model, seed) for seed in (0, 0, 1))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_refine_runs_a_subset_of_steps_from_a_given_cum_fine(published_cfg):
    model = build_tiny(published_cfg).eval()
    model.test_cfg['precision'] = 'fp32'  # exact values: 'auto' is bf16 on a bf16 CPU
    randomize_(model.denoiser)
    images, samples = make_batch()
    coarse = torch.stack([s.coarse_mask.data for s in samples]).float()
    start = torch.full_like(coarse, 0.5)
    out = model.refine(images, coarse, timesteps=[0], cum_fine=start)
    logits = model.denoiser(torch.cat([images, coarse], 1), torch.zeros(2, dtype=torch.long))
    assert torch.allclose(out['prob'], logits.sigmoid())
    # c <- c + (1 - c) q, q = f (1 - 0.8) / (1 - 0.8 f) at t = 0
    confidence = 2 * (logits.sigmoid() - 0.5).abs()
    expected = 0.5 + 0.5 * confidence * 0.2 / (1 - 0.8 * confidence)
    assert torch.allclose(out['cum_fine'], expected, atol=1e-6)
    assert not out['prob'].requires_grad


def test_tensor_mode_gives_logits_at_the_coarsest_step(published_cfg):
    model = build_tiny(published_cfg)
    randomize_(model.denoiser)
    images, samples = make_batch()
    logits = model(images, samples, mode='tensor')
    coarse = torch.stack([s.coarse_mask.data for s in samples]).float()
    expected = model.denoiser(torch.cat([images, coarse], 1), torch.full((2, ), 5))
    assert logits.shape == (2, 1, SIZE, SIZE) and torch.allclose(logits, expected)


class RecordingRefiner:
    """Stands in for InstanceRefiner / GlobalLocalRefiner."""

    def __init__(self, tag):
        self.tag = tag

    def predict(self, model, inputs, data_samples):
        return [(self.tag, model, inputs, data_samples)]


@pytest.mark.parametrize('mode', ['instance', 'global_local'])
def test_instance_and_global_local_modes_delegate(published_cfg, mode):
    model = build_tiny(
        published_cfg,
        test_cfg=dict(mode=mode),
        **{f'{mode}_refiner': dict(type=RecordingRefiner, tag=mode)})
    inputs = [torch.zeros(3, 50, 70)]
    samples = [RefineDataSample()]
    assert model.predict(inputs, samples) == [(mode, model, inputs, samples)]


def test_mode_without_its_refiner_config_raises(published_cfg):
    no_refiners = dict(instance_refiner=None, global_local_refiner=None)
    with pytest.raises(ValueError, match='instance_refiner'):
        build_tiny(published_cfg, test_cfg=dict(mode='instance'), **no_refiners)
    model = build_tiny(published_cfg, **no_refiners)
    model.test_cfg['mode'] = 'global_local'
    with pytest.raises(ValueError, match='global_local_refiner'):
        model.predict(*make_batch())
    with pytest.raises(ValueError, match='test_cfg.mode'):
        build_tiny(published_cfg, test_cfg=dict(mode='slide'))


def test_bad_inputs_name_the_sample(published_cfg):
    model = build_tiny(published_cfg)
    images, samples = make_batch()
    with pytest.raises(ValueError, match='img_1.jpg'):
        model.predict([images[0], images[1, :, :16]], samples)
    del samples[1].gt_mask
    with pytest.raises(ValueError, match='img_1.jpg has no gt_mask'):
        model.loss(images, samples)
    samples[0].coarse_mask = PixelData(data=torch.zeros(1, SIZE, SIZE + 1, dtype=torch.uint8))
    with pytest.raises(ValueError, match='coarse_mask of img_0.jpg'):
        model.predict(images, samples)


def test_denoiser_and_diffusion_must_agree_on_timesteps(published_cfg):
    with pytest.raises(ValueError, match='timesteps'):
        build_tiny(published_cfg, diffusion=dict(type='DiscreteMaskDiffusion', num_timesteps=4))


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a network called on ``x`` computes in: ``x``'s own (a network converted to
    bf16), or autocast's when it is on."""
    if x.dtype != torch.float32:
        return x.dtype
    return torch.get_autocast_dtype('cpu') if torch.is_autocast_enabled('cpu') else x.dtype


class NetworkRecorder:
    """Forward pre-hook recording the steps and compute dtype of every network call."""

    def __init__(self, network):
        self.calls = []
        network.register_forward_pre_hook(self)

    def __call__(self, module, args):
        x, t = args
        self.calls.append(
            dict(t=t.tolist(), dtype=compute_dtype(x), channels_last=not x.is_contiguous()))


def test_fp32_reproduces_the_plain_float32_network_exactly(published_cfg):
    model = build_tiny(published_cfg, test_cfg=dict(mode='whole', precision='fp32')).eval()
    randomize_(model.denoiser)
    images, samples = make_batch()
    coarse = torch.stack([s.coarse_mask.data for s in samples]).float()
    out = model.refine(images, coarse, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = model.diffusion.sample(
            model.denoiser, images, coarse, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out['prob'], plain['prob'])
    assert torch.equal(out['cum_fine'], plain['cum_fine'])


def test_default_precision_is_auto_and_bf16_runs_the_network_in_bf16(published_cfg):
    assert build_tiny(published_cfg).test_cfg['precision'] == 'auto'
    model = build_tiny(published_cfg, test_cfg=dict(mode='whole', precision='bf16')).eval()
    randomize_(model.denoiser, std=0.1)
    recorder = NetworkRecorder(model.denoiser)
    images, samples = make_batch()
    coarse = torch.stack([s.coarse_mask.data for s in samples]).float()
    out = model.refine(images, coarse, generator=torch.Generator().manual_seed(0))
    assert [call['dtype'] for call in recorder.calls] == [torch.bfloat16] * 6
    assert all(call['channels_last'] for call in recorder.calls)
    assert out['prob'].dtype == out['cum_fine'].dtype == torch.float32
    model.test_cfg['precision'] = 'fp32'
    exact = model.refine(images, coarse, generator=torch.Generator().manual_seed(0))
    assert recorder.calls[-1]['dtype'] == torch.float32 and not recorder.calls[-1]['channels_last']
    agreement = ((out['prob'] >= 0.5) == (exact['prob'] >= 0.5)).float().mean().item()
    assert agreement >= 0.95, agreement


@pytest.mark.parametrize('mode', ['whole', 'instance', 'global_local'])
def test_every_test_mode_runs_the_network_in_the_configured_precision(published_cfg, mode):
    model = build_tiny(published_cfg, test_cfg=dict(mode=mode, precision='bf16', seed=0)).eval()
    model.instance_refiner.min_area = 1
    model.global_local_refiner.min_fg_pixels = 1
    model.global_local_refiner.patch_size = 16
    recorder = NetworkRecorder(model.denoiser)
    images, samples = make_batch()
    if mode == 'instance':
        from mmengine.structures import InstanceData
        for sample in samples:
            sample.pred_instances = InstanceData(masks=sample.coarse_mask.data.bool())
    model.predict(images, samples)
    assert recorder.calls and all(c['dtype'] == torch.bfloat16 for c in recorder.calls)


def test_the_precision_is_logged_once(published_cfg, monkeypatch, cpu_kind):
    from mmseg_refiner.models.refiners import segrefiner
    messages = []
    monkeypatch.setattr(segrefiner, 'print_log', lambda msg, **kwargs: messages.append(msg))
    model = build_tiny(published_cfg, test_cfg=dict(mode='whole', precision='auto')).eval()
    images, samples = make_batch()
    for _ in range(3):
        model.predict(images, samples)
    assert messages == [
        f"SegRefiner: the network runs in {cpu_kind} on cpu "
        f"(test_cfg.precision='auto')"
    ]


def _auto_and_fp32(published_cfg):
    """The tiny model's ``refine`` output with ``precision='auto'`` and ``'fp32'``, and the
    dtypes its network ran in with ``'auto'``."""
    model = build_tiny(published_cfg, test_cfg=dict(mode='whole', precision='auto')).eval()
    randomize_(model.denoiser, std=0.1)
    recorder = NetworkRecorder(model.denoiser)
    images, samples = make_batch()
    coarse = torch.stack([s.coarse_mask.data for s in samples]).float()
    auto = model.refine(images, coarse, generator=torch.Generator().manual_seed(0))
    dtypes = {call['dtype'] for call in recorder.calls}
    model.test_cfg['precision'] = 'fp32'
    exact = model.refine(images, coarse, generator=torch.Generator().manual_seed(0))
    return auto, exact, dtypes


def _check_bf16_agrees_with_fp32(auto, exact):
    """The stated tolerances of bf16 against fp32 (tiny model, 6 steps, random weights):
    probabilities within 0.05, at least 99% of the thresholded pixels equal, ``c``
    within 0.05."""
    assert auto['prob'].dtype == auto['cum_fine'].dtype == torch.float32
    assert (auto['prob'] - exact['prob']).abs().max() <= 0.05
    assert (auto['cum_fine'] - exact['cum_fine']).abs().max() <= 0.05
    agreement = ((auto['prob'] >= 0.5) == (exact['prob'] >= 0.5)).float().mean().item()
    assert agreement >= 0.99, agreement
    assert not torch.equal(auto['prob'], exact['prob'])  # bf16 did run


def test_auto_runs_the_kinds_precision_and_agrees_with_fp32(published_cfg, cpu_kind):
    auto, exact, dtypes = _auto_and_fp32(published_cfg)
    if cpu_kind == 'fp32':
        assert dtypes == {torch.float32}
        assert torch.equal(auto['prob'], exact['prob'])
        assert torch.equal(auto['cum_fine'], exact['cum_fine'])
    else:
        assert dtypes == {torch.bfloat16}
        _check_bf16_agrees_with_fp32(auto, exact)


@pytest.mark.native_bf16
def test_auto_is_bf16_on_a_native_bf16_cpu_and_agrees_with_fp32(published_cfg,
                                                                hardware_auto_precision):
    assert hardware_auto_precision == 'bf16'
    auto, exact, dtypes = _auto_and_fp32(published_cfg)
    assert dtypes == {torch.bfloat16}
    _check_bf16_agrees_with_fp32(auto, exact)


def test_instance_refiner_timesteps_run_only_those_steps(published_cfg):
    model = build_tiny(
        published_cfg,
        test_cfg=dict(mode='instance', precision='fp32', seed=0),
        instance_refiner=dict(type='InstanceRefiner', min_area=1, timesteps=(5, 3, 0))).eval()
    recorder = NetworkRecorder(model.denoiser)
    images, samples = make_batch()
    from mmengine.structures import InstanceData
    for sample in samples:
        sample.pred_instances = InstanceData(masks=sample.coarse_mask.data.bool())
    model.predict(images, samples)
    assert [call['t'] for call in recorder.calls] == [[5, 5], [3, 3], [0, 0]]


def test_bad_precision_and_timesteps_are_refused_when_building(published_cfg):
    with pytest.raises(ValueError, match="precision must be one of .*'fp64'"):
        build_tiny(published_cfg, test_cfg=dict(mode='whole', precision='fp64'))
    with pytest.raises(ValueError, match=r'instance_refiner.timesteps .*\[6, 3, 0\]'):
        build_tiny(
            published_cfg, instance_refiner=dict(type='InstanceRefiner', timesteps=(6, 3, 0)))
    with pytest.raises(ValueError, match=r'global_local_refiner.global_timesteps'):
        build_tiny(
            published_cfg,
            global_local_refiner=dict(
                type='GlobalLocalRefiner', global_timesteps=(7, 3), local_timesteps=(0, )))
