"""Mixed-precision training in bfloat16 on any device, the CPU included."""
import torch
from contextlib import contextmanager
from mmengine.optim import OptimWrapper
from torch import nn

from mmseg_refiner.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class BF16AmpOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward pass runs under bf16 autocast.

    MMEngine's ``AmpOptimWrapper`` refuses to run without a GPU (or NPU, MLU,
    MUSA): its loss scaler needs one. bfloat16 keeps float32's exponent range,
    so gradients do not underflow and no loss scaler is needed: this wrapper is
    a plain ``OptimWrapper`` (same ``backward``, ``step``, ``state_dict``;
    checkpoints interchange with it) plus ``torch.autocast(dtype=bfloat16)``
    on the model's device around the forward pass. ``tools/train.py --amp``
    uses it on a machine without CUDA (on a GPU, ``AmpOptimWrapper``).
    """

    @contextmanager
    def optim_context(self, model: nn.Module):
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else 'cpu'
        with super().optim_context(model), torch.autocast(device_type, dtype=torch.bfloat16):
            yield
