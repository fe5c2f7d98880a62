"""Tiny model configs shared by tests and random weights for them."""
import torch

TINY_DENOISER = dict(
    type='DenoiseUNet',
    model_channels=16,
    channel_mult=(1, 2),
    num_res_blocks=1,
    attention_strides=(2, ),
    num_heads=2,
    norm_groups=8)


def randomize_(module, seed: int = 0, std: float = 0.2):
    """Replace every parameter of ``module`` by seeded normal values of deviation ``std``
    (ADM zero-initializes some layers, which would hide the other layers' gradients and make
    every logit 0); returns ``module``."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * std)
    return module


def tiny_segrefiner_cfg(mode: str, seed: int = 0, precision: str = 'fp32', **refiner_cfg) -> dict:
    """A SegRefiner (model side 32) small enough for tests, in test mode ``mode``.

    ``precision`` defaults to ``'fp32'``: the tests' exact equalities (batch sizes,
    routes, hand-computed values) then hold on every CPU, also one where ``'auto'``
    would pick bf16.

    ``refiner_cfg`` configures the mode's higher-level refiner (``InstanceRefiner``
    for ``'instance'``, ``GlobalLocalRefiner`` for ``'global_local'``).
    """
    refiners = {'instance': 'InstanceRefiner', 'global_local': 'GlobalLocalRefiner'}
    return dict(
        type='SegRefiner',
        data_preprocessor=dict(type='RefinerDataPreprocessor'),
        denoiser=dict(TINY_DENOISER),
        diffusion=dict(type='DiscreteMaskDiffusion'),
        loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True),
        loss_texture=dict(type='TextureLoss', loss_weight=5.0),
        model_size=32,
        **{f'{mode}_refiner': dict(type=refiners[mode], **refiner_cfg)},
        test_cfg=dict(mode=mode, seed=seed, precision=precision))


#: ``--cfg-options`` that shrink the demo config's model to the tiny test model (side 32).
TINY_DEMO_OPTIONS = {
    'model.model_size': 32,
    'model.denoiser.model_channels': 8,
    'model.denoiser.channel_mult': [1, 2],
    'model.denoiser.attention_strides': [2],
    'model.denoiser.norm_groups': 4,
    'model.instance_refiner.min_area': 16,
    'model.global_local_refiner.patch_size': 32,
}
