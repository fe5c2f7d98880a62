"""The refiner's cost, counted the OpenMMLab way (``mmengine.analysis``).

FLOPs are mmengine's: one fused multiply-add counts as one (as mmdet's and
mmseg's ``get_flops.py`` report them); the attention's two matrix products
(``scaled_dot_product_attention``, which mmengine leaves uncounted) are
added. The network is traced once at its input side; the per-instance and
per-mask costs follow from the number of network calls each test mode makes.

A chain's upstream model is counted as mmdet's and mmseg's ``get_flops.py``
count a plain model: its ``forward(mode='tensor')`` on one preprocessed image
(network only, no post-processing); mmseg's auxiliary head, unused in testing,
is left out of its parameters as mmseg's tool does.
"""
import math
import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from typing import List, Optional, Tuple


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


class _TensorForward(torch.nn.Module):
    """An upstream model's ``forward(mode='tensor')`` with its data samples bound (what the
    tracer calls)."""

    def __init__(self, model: torch.nn.Module, data_samples: list):
        super().__init__()
        self.model, self.data_samples = model, data_samples

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, self.data_samples, mode='tensor')


def _data_sample_type(scope: str):
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample
        return DetDataSample
    from mmseg.structures import SegDataSample
    return SegDataSample


def upstream_complexity(chain, shape: Tuple[int, int]) -> dict:
    """``flops`` and ``params`` of a chain's upstream model on one ``shape`` = (h, w) image (the
    network input, as the test pipeline resized it), the way mmdet's / mmseg's ``get_flops.py``
    count a plain model."""
    upstream = chain.upstream.eval()
    height, width = shape
    meta = dict(
        ori_shape=(height, width),
        img_shape=(height, width),
        pad_shape=(height, width),
        scale_factor=(1.0, 1.0))
    image = torch.randint(
        0, 256, (3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = upstream.data_preprocessor(
        dict(inputs=[image], data_samples=[_data_sample_type(chain.upstream_scope)(metainfo=meta)]),
        False)
    analyzer = FlopAnalyzer(_TensorForward(upstream, data['data_samples']), (data['inputs'], ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with torch.no_grad():
        flops = analyzer.total()
    params = parameter_count(upstream)['']
    auxiliary = getattr(upstream, 'auxiliary_head', None)
    if auxiliary is not None:
        params -= parameter_count(auxiliary)['']
    return dict(flops=int(flops), params=int(params), shape=(height, width))
