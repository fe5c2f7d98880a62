"""The inference precision policy: in which dtype the denoising network runs.

One setting, ``model.test_cfg.precision``, decides it for every inference path
(the API, the tools, ``tools/test.py`` and the chained wrappers), because it is
applied in one place: where ``SegRefiner`` calls its network.

- ``'fp32'``: the network in float32, contiguous tensors, exactly as trained.
- ``'bf16'``: the network computes in bfloat16 throughout: it runs on bf16
  copies of its weights (4-D ones in ``channels_last``), made once and reused
  until the weights change, with its input in bf16 ``channels_last``. bf16
  has float32's exponent range and the CPU kernels of GroupNorm, softmax and
  attention accumulate in float32, so nothing needs autocast's float32 ops;
  autocast would re-cast every weight at every call and run the norms and
  activations in float32 between bf16 convolutions (2-3 extra passes over
  every feature map).
- ``'fp16'``: the network under ``torch.autocast`` (fp16's narrow range needs
  autocast's float32 ops), its input in ``channels_last``.
- ``'auto'`` (the default): ``'bf16'`` where the hardware runs bf16 natively
  (a CPU whose oneDNN reports bf16 support, a CUDA device with
  ``torch.cuda.is_bf16_supported()``), ``'fp16'`` on a CUDA device without
  bf16, ``'fp32'`` elsewhere. The environment variable
  ``MMSEG_REFINER_AUTO_PRECISION`` (``'bf16'``, ``'fp16'`` or ``'fp32'``),
  when set, is what ``'auto'`` resolves to on every device, whatever the
  hardware (bf16 is emulated, slowly, on a CPU without it): it runs the
  test suite, or a job, as if on the other kind of machine.

Only the network changes dtype: its logits
are cast back to float32 before the diffusion uses them (sigmoid,
confidence, transition probability, ``c``), and resizing, thresholds and
pasting never run under autocast.
"""
import os
import torch
import weakref
from torch import nn
from typing import Callable, Dict, Tuple

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


#: Per network, its bf16 tensors and the key (dtype, identity and version of every weight)
#: they were made for.
_CAST_WEIGHTS: 'weakref.WeakKeyDictionary[nn.Module, Tuple[tuple, Dict[str, torch.Tensor]]]' = (
    weakref.WeakKeyDictionary())


def _cast(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A floating tensor in ``dtype`` (``channels_last`` if 4-D); others as they are."""
    if not tensor.is_floating_point():
        return tensor
    layout = torch.channels_last if tensor.dim() == 4 else torch.preserve_format
    return tensor.detach().to(dtype, memory_format=layout)


def cast_weights(network: nn.Module, dtype: torch.dtype) -> Dict[str, torch.Tensor]:
    """``network``'s parameters and buffers in ``dtype``, by name, made once per weights.

    The copies are kept (while ``network`` lives) and made again only when a
    weight changes: a new tensor (``load_state_dict`` with ``assign``, ``.to``)
    or an in-place write (``load_state_dict``, an optimizer step) bumps its
    ``data_ptr`` or ``_version``.
    """
    named = list(network.named_parameters()) + list(network.named_buffers())
    key = (dtype, tuple((name, t.data_ptr(), t._version, t.device) for name, t in named))
    cached = _CAST_WEIGHTS.get(network)
    if cached is None or cached[0] != key:
        cached = (key, {name: _cast(t, dtype) for name, t in named})
        _CAST_WEIGHTS[network] = cached
    return cached[1]


def network_in_precision(network: nn.Module, precision: str, device: torch.device) -> DenoiseFn:
    """``network`` wrapped to run in a concrete ``precision`` on ``device``.

    For ``'fp32'`` this is ``network`` itself. For ``'bf16'`` every call runs
    ``network`` itself (its hooks included) on its bf16 weights
    (:func:`cast_weights`, through ``torch.func.functional_call``), the input
    cast to bf16 ``channels_last``; for ``'fp16'`` under ``torch.autocast``,
    the input in ``channels_last``. Both return float32 logits.
    """
    if precision == 'fp32':
        return network
    dtype = _DTYPES[precision]
    if precision == 'bf16':
        weights = cast_weights(network, dtype)

        def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            x = x.to(dtype, memory_format=torch.channels_last)
            return torch.func.functional_call(network, weights, (x, t)).float()

        return denoise
    device_type = torch.device(device).type

    def denoise_autocast(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type, dtype=dtype):
            logits = network(x.contiguous(memory_format=torch.channels_last), t)
        return logits.float()

    return denoise_autocast
