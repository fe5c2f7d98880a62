"""DenoiseUNet: shapes, dtypes, gradients, the attention layout, size of the
published configuration."""
import math
import pytest
import torch
import torch.nn.functional as F

from mmseg_refiner.models.denoisers import DenoiseUNet
from mmseg_refiner.models.denoisers.blocks import SelfAttention2d, sinusoidal_timestep_embedding
from mmseg_refiner.registry import MODELS
from mmseg_refiner.testing import TINY_DENOISER, randomize_

# The tests' tiny denoiser, as constructor arguments: small enough to run in milliseconds on
# 32x32 / 64x64 inputs.
TINY_CFG = {key: value for key, value in TINY_DENOISER.items() if key != 'type'}


def _inputs(batch: int = 2, size: int = 32, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    image = torch.randn(batch, 3, size, size, generator=gen)
    mask = (torch.rand(batch, 1, size, size, generator=gen) > 0.5).float()
    return torch.cat([image, mask], dim=1), torch.arange(batch) % 6


def test_build_from_registry_and_output_shape_dtype():
    net = MODELS.build(dict(type='DenoiseUNet', **TINY_CFG))
    assert isinstance(net, DenoiseUNet)
    x, t = _inputs(batch=3, size=32)
    out = net(x, t)
    assert out.shape == (3, 1, 32, 32)
    assert out.dtype == torch.float32


def test_fresh_network_outputs_zero_like_adm():
    """The output convolution starts at zero, so a fresh network predicts 0 logits."""
    net = DenoiseUNet(**TINY_CFG)
    x, t = _inputs()
    assert torch.equal(net(x, t), torch.zeros(2, 1, 32, 32))


def test_gradients_reach_every_parameter():
    net = DenoiseUNet(**TINY_CFG)
    randomize_(net)
    x, t = _inputs(batch=2, size=32)
    net(x, t).square().mean().backward()
    no_grad = [
        name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert no_grad == []


def test_output_depends_on_timestep_and_mask():
    net = DenoiseUNet(**TINY_CFG).eval()
    randomize_(net)
    x, _ = _inputs(batch=1)
    with torch.no_grad():
        out_t0 = net(x, torch.tensor([0]))
        out_t5 = net(x, torch.tensor([5]))
        flipped = x.clone()
        flipped[:, 3] = 1 - flipped[:, 3]
        out_flipped = net(flipped, torch.tensor([0]))
    assert (out_t0 - out_t5).abs().max() > 1e-3
    assert (out_t0 - out_flipped).abs().max() > 1e-3


def test_sinusoidal_time_embedding_variant():
    net = DenoiseUNet(learn_time_embd=False, **TINY_CFG)
    randomize_(net)
    x, _ = _inputs(batch=2)
    with torch.no_grad():
        out = net(x.clone(), torch.tensor([0, 5]))
        same_t = net(x.clone(), torch.tensor([0, 0]))
    assert out.shape == (2, 1, 32, 32)
    assert torch.allclose(out[0], same_t[0], atol=1e-6)
    assert (out[1] - same_t[1]).abs().max() > 1e-3


@pytest.mark.parametrize('learn_time_embd', [True, False])
def test_bf16_weights_channels_last_close_to_fp32(learn_time_embd):
    """The network converted to bf16 (how ``precision='bf16'`` runs it), both embeddings."""
    net = DenoiseUNet(learn_time_embd=learn_time_embd, **TINY_CFG).eval()
    randomize_(net)
    x, t = _inputs(batch=2)
    with torch.no_grad():
        reference = net(x, t)
        net = net.to(torch.bfloat16, memory_format=torch.channels_last)
        out = net(x.to(torch.bfloat16, memory_format=torch.channels_last), t)
    assert out.shape == (2, 1, 32, 32)
    assert out.dtype == torch.bfloat16
    rel_err = (out.float() - reference).abs().max() / reference.abs().max()
    assert rel_err < 0.05


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_a_row_does_not_depend_on_the_batch_in_channels_last(dtype):
    """Batch 5 and five batches of 1 give identical logits (reduced precision: GroupNorm is
    given one layout whatever the batch size)."""
    net = randomize_(DenoiseUNet(**TINY_CFG).eval()).to(dtype, memory_format=torch.channels_last)
    x = torch.randn(5, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    x = x.to(dtype, memory_format=torch.channels_last)
    t = torch.tensor([5, 4, 3, 2, 0])
    with torch.no_grad():
        batch = net(x, t)
        rows = torch.cat([net(x[i:i + 1], t[i:i + 1]) for i in range(5)])
    if dtype == torch.float32:  # float32 matmuls may block by batch size: float rounding
        assert torch.allclose(batch, rows, atol=1e-5)
    else:
        assert torch.equal(batch, rows)


def test_attention_matches_per_head_reference():
    """qkv channels are grouped per head as [q, k, v] (ADM's legacy layout)."""
    torch.manual_seed(0)
    channels, heads, size = 8, 2, 3
    attn = SelfAttention2d(channels, heads, norm_groups=4)
    randomize_(attn, seed=1)
    x = torch.randn(2, channels, size, size)
    with torch.no_grad():
        out = attn(x)
        tokens = x.reshape(2, channels, -1)
        qkv = attn.qkv(attn.norm(tokens))
        d = channels // heads
        head_outputs = []
        for h in range(heads):
            q, k, v = (qkv[:, 3 * d * h + i * d:3 * d * h + (i + 1) * d] for i in range(3))
            weights = torch.softmax(torch.einsum('bct,bcs->bts', q, k) / math.sqrt(d), dim=-1)
            head_outputs.append(torch.einsum('bts,bcs->bct', weights, v))
        expected = tokens + attn.proj(torch.cat(head_outputs, dim=1))
    assert torch.allclose(out, expected.reshape_as(x), atol=1e-5)


def test_bad_inputs_raise_clear_errors():
    net = DenoiseUNet(**TINY_CFG)
    x, t = _inputs()
    with pytest.raises(ValueError, match='divisible by 2'):
        net(x[..., :31], t)
    with pytest.raises(ValueError, match='one timestep per sample'):
        net(x, t[:1])
    with pytest.raises(ValueError, match='norm_groups=32'):
        DenoiseUNet(model_channels=16, channel_mult=(1, 2))
    with pytest.raises(ValueError, match='num_heads=3'):
        DenoiseUNet(
            model_channels=16,
            channel_mult=(1, 2),
            num_heads=3,
            norm_groups=8,
            attention_strides=(1, ))


def test_published_configuration_has_118604673_parameters():
    with torch.device('meta'):  # shapes only: no memory, no init cost
        net = DenoiseUNet()
    assert sum(p.numel() for p in net.parameters()) == 118_604_673
    assert net.time_embedding.weight.shape == (6, 512)
    assert not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in net.modules())


def test_sinusoidal_embedding_values():
    emb = sinusoidal_timestep_embedding(torch.tensor([0, 2]), 4, max_period=100.0)
    # frequencies 100**(-0/2) = 1 and 100**(-1/2) = 0.1
    expected = torch.tensor([[1.0, 1.0, 0.0, 0.0],
                             [math.cos(2.0),
                              math.cos(0.2),
                              math.sin(2.0),
                              math.sin(0.2)]])
    assert torch.allclose(emb, expected, atol=1e-6)
    odd = sinusoidal_timestep_embedding(torch.tensor([0, 2]), 5, max_period=100.0)
    assert torch.allclose(odd, F.pad(expected, (0, 1)), atol=1e-6)
