"""tools/analysis_tools/get_flops.py: the refiner's FLOPs and parameters, hand-checked."""
import pytest
import torch

from mmseg_refiner.apis.complexity import denoiser_complexity, refiner_complexity
from mmseg_refiner.models.denoisers import DenoiseUNet
from mmseg_refiner.registry import MODELS
from mmseg_refiner.testing import load_script, tiny_segrefiner_cfg

get_flops = load_script('tools/analysis_tools/get_flops.py')


class TwoConvs(torch.nn.Module):
    """A stand-in network whose multiply-adds are counted by hand."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.out = torch.nn.Conv2d(8, 1, 1)

    def forward(self, x, t):
        return self.out(self.conv(x))


def test_flops_are_multiply_adds_counted_by_hand():
    cost = denoiser_complexity(TwoConvs(), 16)
    assert cost['params'] == 8 * 4 * 9 + 8 + 8 + 1
    assert cost['flops'] == 16 * 16 * (8 * 4 * 9 + 8)


def test_attention_is_counted():
    # the same U-Net with attention at stride 2 costs more than without, by at least q k^T and
    # attn v of one head per block: 2 * L^2 * C with L = (32 / 2)^2 tokens of C = 32 channels
    common = dict(
        model_channels=16, channel_mult=(1, 2), num_res_blocks=1, num_heads=1, norm_groups=8)
    with_attention = denoiser_complexity(DenoiseUNet(attention_strides=(2, ), **common), 32)
    without = denoiser_complexity(DenoiseUNet(attention_strides=(), **common), 32)
    assert with_attention['flops'] - without['flops'] >= 2 * 256**2 * 32


def test_per_instance_and_per_mask_costs_follow_the_steps():
    refiner = MODELS.build(tiny_segrefiner_cfg('global_local'))
    cost = refiner_complexity(refiner, steps=3)
    assert cost['size'] == 32 and cost['instance_flops'] == 3 * cost['flops']
    assert cost['global_steps'] == 5 and cost['global_flops'] == 5 * cost['flops']
    assert cost['local_flops'] == cost['flops']
    assert cost['params'] == sum(p.numel() for p in refiner.denoiser.parameters())


def test_the_tool_reports_a_chains_refiner(repo_root, capsys):
    config = f'{repo_root}/configs/segrefiner/segrefiner_unet-tiny_1xb8-3k_synthetic-64.py'
    assert get_flops.main([config, '--steps', '2']) == 0
    out = capsys.readouterr().out
    assert 'params: 1.141 M' in out
    assert 'one instance, instance mode (2 steps at 64x64)' in out
    assert get_flops.main([config, '--steps', '0']) == 1
    assert 'error: --steps must be at least 1' in capsys.readouterr().err


def test_a_chain_refuses_tensor_mode_saying_what_to_run():
    from mmseg_refiner.models.wrappers import RefinedSegmentor
    chain = RefinedSegmentor.__new__(RefinedSegmentor)
    chain.upstream_name, chain.upstream_scope = 'segmentor', 'mmseg'
    with pytest.raises(
            ValueError,
            match="tools/analysis_tools/get_flops.py CONFIG and the "
            "segmentor with mmseg's own"):
        RefinedSegmentor.forward(chain, None, None, mode='tensor')
