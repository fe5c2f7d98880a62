"""The refiner's cost, counted the OpenMMLab way (``mmengine.analysis``).

FLOPs are mmengine's: one fused multiply-add counts as one (as mmdet's and
mmseg's ``get_flops.py`` report them); the attention's two matrix products
(``scaled_dot_product_attention``, which mmengine leaves uncounted) are
added. The network is traced once at its input side; the per-instance and
per-mask costs follow from the number of network calls each test mode makes.
"""
import math
import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from typing import List, Optional


def _attention_flops(inputs: List, outputs: List) -> int:
    """Multiply-adds of ``softmax(q k^T) v``: two products of ``L x S x D`` per head."""
    query, key = get_shape(inputs[0]), get_shape(inputs[1])
    *batch, length, depth = query
    return 2 * math.prod(batch) * length * key[-2] * depth


def denoiser_complexity(denoiser: torch.nn.Module, size: int) -> dict:
    """``flops`` and ``params`` of one forward of ``denoiser`` on one ``size`` x ``size`` input
    (image and mask: 4 channels, the timestep embedded as the network does)."""
    inputs = (torch.zeros(1, 4, size, size), torch.zeros(1, dtype=torch.long))
    analyzer = FlopAnalyzer(denoiser.eval(), inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', _attention_flops)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with torch.no_grad():
        flops = analyzer.total()
    return dict(flops=int(flops), params=int(parameter_count(denoiser)['']))


def refiner_complexity(refiner, size: Optional[int] = None, steps: Optional[int] = None) -> dict:
    """The cost of a ``SegRefiner`` per network call, per instance and per global-local mask.

    Args:
        refiner: the built ``SegRefiner``.
        size: the input side (default: the model's, ``model_size``).
        steps: reverse steps per instance in instance mode (default: all,
            ``num_timesteps``, as the paper runs them).

    Returns:
        dict: ``size``, ``params``, ``flops`` (one network call),
        ``steps`` and ``instance_flops`` (``steps`` calls on the crop resized
        to the input side), ``global_steps`` and ``global_flops`` (the
        global step of a global-local mask) and ``local_flops`` (each local
        patch: its local steps).
    """
    size = int(size or refiner.model_size)
    steps = int(steps or refiner.num_timesteps)
    if steps < 1:
        raise ValueError(f'steps must be at least 1, got {steps}')
    cost = denoiser_complexity(refiner.denoiser, size)
    global_local = getattr(refiner, 'global_local_refiner', None)
    global_steps = len(global_local.global_timesteps) if global_local is not None else 0
    local_steps = len(global_local.local_timesteps) if global_local is not None else 0
    return dict(
        size=size,
        steps=steps,
        instance_flops=steps * cost['flops'],
        global_steps=global_steps,
        global_flops=global_steps * cost['flops'],
        local_flops=local_steps * cost['flops'],
        **cost)
