# The demo model (demo/segrefiner_demo.pth, trained by
# configs/segrefiner/segrefiner_unet-tiny_1xb8-3k_synthetic-64.py): the published SegRefiner
# (segrefiner_unet_128.py) shrunk to 1.14 M parameters so that it trains on one CPU in about
# half an hour: input side 64 (not 256), base width 16 (not 128), 4 levels with multipliers
# (1, 2, 2, 4), attention only at stride 8 (and in the middle block), GroupNorm with 8 groups.
# The diffusion (T = 6), the losses and the instance refiner are the published ones; the
# global-local refiner takes local patches at this model's input side (64 px, so patches are
# refined at full resolution as in the paper) and resizes bilinearly, as the demo model's
# training crops were resized. A demonstration, not a paper model.
from mmengine.config import read_base

with read_base():
    from .segrefiner_unet_128 import model as published

model = dict(
    published,
    denoiser=dict(
        published['denoiser'],
        model_channels=16,
        channel_mult=(1, 2, 2, 4),
        attention_strides=(8, ),
        num_heads=4,
        norm_groups=8),
    model_size=64,
    global_local_refiner=dict(
        published['global_local_refiner'],
        patch_size=64,
        interpolation='bilinear',
        prob_interpolation='bilinear'))
del published
