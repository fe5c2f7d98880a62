"""tools/analysis_tools/get_flops.py: the refiner's FLOPs and parameters, hand-checked; a chain's
upstream model counted as mmdet's own get_flops.py counts the plain detector."""
import os
import os.path as osp
import pytest
import re
import subprocess
import sys
import torch

from mmseg_refiner.apis.complexity import denoiser_complexity, refiner_complexity
from mmseg_refiner.models.denoisers import DenoiseUNet
from mmseg_refiner.registry import MODELS
from mmseg_refiner.testing import REPO_ROOT, load_script, tiny_segrefiner_cfg, write_tiny_coco

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


#: a small Mask R-CNN (mmdet's config, R18 and 32 channels) on the tiny COCO set
PLAIN_DETECTOR = """_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=64),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(in_channels=32, conv_out_channels=32)))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root={root!r}, ann_file='annotations.json',
                 data_prefix=dict(img='images/')))
"""
PLAIN_SEGMENTOR = """_base_ = [
    'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py']
model = dict(
    pretrained=None,
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=16, c1_in_channels=64, c1_channels=8),
    auxiliary_head=dict(in_channels=256, channels=16))
"""
#: a chain built on a plain config, as the shipped chains are
CHAIN = """_base_ = [{plain!r}]
from mmseg_refiner.configs.segrefiner_refiners import {refiner}  # noqa: E402
model = dict(_delete_=True, type='mmseg_refiner.{chain}', {upstream}=_base_.model,
             refiner={refiner})
del {refiner}
"""


def _write_configs(root, kind: str):
    det = kind == 'det'
    plain = osp.join(root, f'{kind}.py')
    with open(plain, 'w') as f:
        f.write(
            PLAIN_DETECTOR.format(root=write_tiny_coco(osp.join(root, 'coco')) +
                                  '/') if det else PLAIN_SEGMENTOR)
    chain = osp.join(root, f'{kind}_chain.py')
    with open(chain, 'w') as f:
        f.write(
            CHAIN.format(
                plain=plain,
                refiner='demo_lr_refiner' if det else 'demo_hr_refiner',
                chain='RefinedDetector' if det else 'RefinedSegmentor',
                upstream='detector' if det else 'segmentor'))
    return plain, chain


def _upstream_tool(scope: str) -> str:
    package = __import__(scope)
    return osp.join(osp.dirname(package.__file__), '.mim/tools/analysis_tools/get_flops.py')


def _run(args):
    return subprocess.run([sys.executable, *args],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))


def _our_figures(chain_config, shape) -> dict:
    proc = _run(['tools/analysis_tools/get_flops.py', chain_config, '--shape', *map(str, shape)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(
        flops=float(
            re.search(r"image \(forward\(mode='tensor'\)\): ([\d.]+) GFLOPs", proc.stdout).group(1))
        * 1e9,
        params=float(re.search(r'\): params ([\d.]+) M', proc.stdout).group(1)) * 1e6,
        out=proc.stdout)


def test_a_detector_chain_costs_what_mmdets_own_tool_counts_for_the_plain_detector(tmp_path):
    plain, chain = _write_configs(str(tmp_path), 'det')
    # mmdet's get_flops.py on the plain detector: one image of the dataset, its input shape
    proc = _run([_upstream_tool('mmdet'), plain, '--num-images', '1'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    shape = tuple(map(int, re.search(r'Input shape: \((\d+), (\d+)\)', proc.stdout).groups()))
    flops, params = re.search(r'Flops: ([\d.]+)G\nParams: ([\d.]+)M', proc.stdout).groups()
    ours = _our_figures(chain, shape)
    # mmdet prints three decimals
    assert ours['flops'] / 1e9 == pytest.approx(float(flops), abs=5e-4)
    assert ours['params'] / 1e6 == pytest.approx(float(params), abs=5e-4)
    per_instance = re.search(r'one instance, instance mode \(6 steps .*\): ([\d.]+) GFLOPs',
                             ours['out']).group(1)
    assert f'chain, one image: detector {ours["flops"] / 1e9:.3f} GFLOPs + {per_instance} ' \
        'GFLOPs per instance' in ours['out']

    # mmdet's own tool on the chain: it reaches the chain, which refuses in one line naming ours
    proc = _run([_upstream_tool('mmdet'), chain, '--num-images', '1'])
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ValueError: RefinedDetector has no mode='tensor' (its refiner's work depends on the "
        "detector's prediction): measure the chain with mmseg_refiner's "
        'tools/analysis_tools/get_flops.py CONFIG')


def test_a_segmentor_chain_costs_what_mmengine_counts_for_the_plain_segmentor(tmp_path):
    # mmseg's get_flops.py (mmseg 1.2) passes both input_shape and inputs, which mmengine 0.10
    # refuses; the count it means to make: the plain model's tensor forward on its
    # preprocessed image, auxiliary head removed
    from mmengine.analysis import get_model_complexity_info
    from mmseg.apis import init_model
    from mmseg.structures import SegDataSample
    plain, chain = _write_configs(str(tmp_path), 'seg')
    model = init_model(plain, device='cpu')
    model.auxiliary_head = None
    meta = dict(ori_shape=(64, 96), img_shape=(64, 96), pad_shape=(64, 96))
    data = model.data_preprocessor(
        dict(inputs=[torch.rand(3, 64, 96)], data_samples=[SegDataSample(metainfo=meta)]))
    expected = get_model_complexity_info(
        model, inputs=data['inputs'], show_table=False, show_arch=False)
    ours = _our_figures(chain, (64, 96))
    assert ours['flops'] / 1e9 == pytest.approx(expected['flops'] / 1e9, abs=5e-4)
    assert ours['params'] / 1e6 == pytest.approx(expected['params'] / 1e6, abs=5e-4)
    assert 'per class present' in ours['out']


def test_a_chain_refuses_tensor_mode_saying_what_to_run():
    from mmseg_refiner.models.wrappers import RefinedSegmentor
    chain = RefinedSegmentor.__new__(RefinedSegmentor)
    chain.upstream_name, chain.upstream_scope = 'segmentor', 'mmseg'
    # 'tensor' is MMEngine's default mode, what the FLOP tracers call
    with pytest.raises(ValueError, match="measure the chain with mmseg_refiner's tools/analysis"):
        RefinedSegmentor.forward(chain, None, None)
