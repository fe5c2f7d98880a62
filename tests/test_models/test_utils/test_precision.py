"""The inference precision policy: which dtype, on which device, and how it is applied."""
import pytest
import torch
import torch.nn.functional as F

from mmseg_refiner.models.utils import PRECISIONS, network_in_precision, resolve_precision
from mmseg_refiner.models.utils.precision import AUTO_PRECISION_ENV, cast_weights


def test_auto_on_the_cpu_follows_onednn_bf16_support(monkeypatch, hardware_auto_precision):
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert resolve_precision('auto', torch.device('cpu')) == ('bf16' if native else 'fp32')
    monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', lambda: False)
    assert resolve_precision('auto', 'cpu') == 'fp32'
    monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', lambda: True)
    assert resolve_precision('auto', 'cpu') == 'bf16'


@pytest.mark.parametrize('bf16_supported,expected', [(True, 'bf16'), (False, 'fp16')])
def test_auto_on_cuda_is_bf16_where_supported_else_fp16(monkeypatch, hardware_auto_precision,
                                                        bf16_supported, expected):
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *args, **kwargs: bf16_supported)
    assert resolve_precision('auto', torch.device('cuda', 1)) == expected


def test_auto_elsewhere_is_fp32_and_explicit_choices_are_kept(hardware_auto_precision):
    assert resolve_precision('auto', torch.device('meta')) == 'fp32'
    for precision in ('fp32', 'bf16', 'fp16'):
        assert resolve_precision(precision, 'cpu') == precision
    assert set(PRECISIONS) == {'auto', 'fp32', 'bf16', 'fp16'}


@pytest.mark.parametrize('forced', ['bf16', 'fp32', 'fp16'])
def test_the_environment_variable_forces_what_auto_resolves_to(monkeypatch, forced):
    monkeypatch.setenv(AUTO_PRECISION_ENV, forced)
    # whatever the hardware says, on every device
    monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', lambda: forced != 'bf16')
    for device in ('cpu', torch.device('cuda', 0), 'meta'):
        assert resolve_precision('auto', device) == forced
    # an explicit choice is kept
    assert resolve_precision('fp32', 'cpu') == 'fp32'
    assert resolve_precision('bf16', 'cpu') == 'bf16'


def test_a_bad_environment_value_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv(AUTO_PRECISION_ENV, 'auto')
    with pytest.raises(ValueError, match=f"{AUTO_PRECISION_ENV} must be one of .*got 'auto'"):
        resolve_precision('auto', 'cpu')
    monkeypatch.setenv(AUTO_PRECISION_ENV, '')  # empty: unset
    assert resolve_precision('auto', 'meta') == 'fp32'


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of .*'half'"):
        resolve_precision('half', 'cpu')


class RecordingNetwork(torch.nn.Module):
    """A 1x1 convolution that records the autocast state, dtypes and memory format it runs in."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 1, 1)
        self.seen = []

    def forward(self, x, t):
        self.seen.append(
            dict(
                autocast=torch.is_autocast_enabled('cpu'),
                dtype=torch.get_autocast_dtype('cpu')
                if torch.is_autocast_enabled('cpu') else x.dtype,
                weight=(self.conv.weight.dtype,
                        self.conv.weight.is_contiguous(memory_format=torch.channels_last)),
                channels_last=x.is_contiguous(memory_format=torch.channels_last)
                and not x.is_contiguous()))
        return self.conv(x)


def test_fp32_is_the_network_itself():
    network = RecordingNetwork()
    assert network_in_precision(network, 'fp32', 'cpu') is network


def test_fp16_runs_the_network_under_autocast_in_channels_last():
    network = RecordingNetwork()
    x, t = torch.randn(2, 4, 8, 8), torch.zeros(2, dtype=torch.long)
    logits = network_in_precision(network, 'fp16', torch.device('cpu'))(x, t)
    assert network.seen == [
        dict(autocast=True, dtype=torch.float16, weight=(torch.float32, True), channels_last=True)
    ]
    assert logits.dtype == torch.float32  # the diffusion gets float32 whatever ran inside
    assert not torch.is_autocast_enabled('cpu')  # nothing after the network runs in autocast
    assert torch.allclose(logits, network.conv(x), atol=0.05)


def test_bf16_runs_the_network_itself_on_bf16_weights_in_channels_last():
    network = RecordingNetwork()
    hook_calls = []
    network.register_forward_pre_hook(lambda module, args: hook_calls.append(args[0].dtype))
    x, t = torch.randn(2, 4, 8, 8), torch.zeros(2, dtype=torch.long)
    logits = network_in_precision(network, 'bf16', torch.device('cpu'))(x, t)
    # no autocast: the input and every weight are bf16, 4-D ones channels_last
    assert network.seen == [
        dict(
            autocast=False, dtype=torch.bfloat16, weight=(torch.bfloat16, True), channels_last=True)
    ]
    assert hook_calls == [torch.bfloat16]  # the module itself ran, its hooks too
    assert logits.dtype == torch.float32
    assert network.conv.weight.dtype == torch.float32  # the model keeps its float32 weights
    expected = F.conv2d(x.bfloat16(), network.conv.weight.bfloat16(),
                        network.conv.bias.bfloat16()).float()
    assert torch.equal(logits, expected)


def test_bf16_weights_are_cast_once_and_again_when_they_change():
    network = RecordingNetwork()
    first = cast_weights(network, torch.bfloat16)
    assert cast_weights(network, torch.bfloat16) is first  # reused while nothing changes
    assert set(first) == {'conv.weight', 'conv.bias'}
    with torch.no_grad():
        network.conv.weight.mul_(2)  # in place, as load_state_dict and optimizers write
    second = cast_weights(network, torch.bfloat16)
    assert second is not first
    assert torch.equal(second['conv.weight'], (network.conv.weight).bfloat16())
    network.load_state_dict({'conv.weight': torch.ones(1, 4, 1, 1), 'conv.bias': torch.zeros(1)})
    x, t = torch.randn(1, 4, 3, 3), torch.zeros(1, dtype=torch.long)
    logits = network_in_precision(network, 'bf16', 'cpu')(x, t)
    assert torch.equal(logits, x.bfloat16().float().sum(1, keepdim=True).bfloat16().float())
