"""The inference precision policy: in which dtype the denoising network runs.

One setting, ``model.test_cfg.precision``, decides it for every inference path
(the API, the tools, ``tools/test.py`` and the chained wrappers), because it is
applied in one place: where ``SegRefiner`` calls its network.

- ``'fp32'``: the network in float32, contiguous tensors, exactly as trained.
- ``'bf16'`` / ``'fp16'``: the network under ``torch.autocast`` with that
  dtype, its input in ``channels_last``.
- ``'auto'`` (the default): ``'bf16'`` where the hardware runs bf16 natively
  (a CPU whose oneDNN reports bf16 support, a CUDA device with
  ``torch.cuda.is_bf16_supported()``), ``'fp16'`` on a CUDA device without
  bf16, ``'fp32'`` elsewhere. The environment variable
  ``MMSEG_REFINER_AUTO_PRECISION`` (``'bf16'``, ``'fp16'`` or ``'fp32'``),
  when set, is what ``'auto'`` resolves to on every device, whatever the
  hardware (bf16 is emulated, slowly, on a CPU without it): it runs the
  test suite, or a job, as if on the other kind of machine.

Only the network's convolutions and matrix products change dtype: its logits
are cast back to float32 before the diffusion uses them (sigmoid,
confidence, transition probability, ``c``), and resizing, thresholds and
pasting never run under autocast.
"""
import os
from typing import Callable, Dict

import torch

PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16')
#: The environment variable that, when set, is what ``'auto'`` resolves to.
AUTO_PRECISION_ENV = 'MMSEG_REFINER_AUTO_PRECISION'
_DTYPES: Dict[str, torch.dtype] = {'bf16': torch.bfloat16, 'fp16': torch.float16}

DenoiseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`, else raise."""
    if precision not in PRECISIONS:
        raise ValueError(f'test_cfg.precision must be one of {PRECISIONS}, got {precision!r}')
    return precision


def resolve_precision(precision: str, device: torch.device) -> str:
    """The concrete precision (``'fp32'``, ``'bf16'`` or ``'fp16'``) on ``device``."""
    check_precision(precision)
    if precision != 'auto':
        return precision
    forced = os.environ.get(AUTO_PRECISION_ENV)
    if forced:
        if forced not in PRECISIONS[1:]:
            raise ValueError(f'the environment variable {AUTO_PRECISION_ENV} must be one of '
                             f'{PRECISIONS[1:]} (what precision=\'auto\' resolves to), got '
                             f'{forced!r}')
        return forced
    device = torch.device(device)
    if device.type == 'cpu':
        return 'bf16' if torch.ops.mkldnn._is_mkldnn_bf16_supported() else 'fp32'
    if device.type == 'cuda':
        return 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
    return 'fp32'


def network_in_precision(network: DenoiseFn, precision: str, device: torch.device) -> DenoiseFn:
    """``network`` wrapped to run in a concrete ``precision`` on ``device``.

    For ``'fp32'`` this is ``network`` itself. Otherwise every call runs under
    ``torch.autocast(device.type, dtype)`` with its input in ``channels_last``
    and returns float32 logits.
    """
    if precision == 'fp32':
        return network
    dtype = _DTYPES[precision]
    device_type = torch.device(device).type

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type, dtype=dtype):
            logits = network(x.contiguous(memory_format=torch.channels_last), t)
        return logits.float()

    return denoise
