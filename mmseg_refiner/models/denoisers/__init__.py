"""The denoising network (``forward(x, t) -> logits``, no schedule inside) and
the converter of the authors' published weights."""
from .denoise_unet import DenoiseUNet
from .official_checkpoint import (UnknownOfficialKeyError, convert_official_checkpoint,
                                  convert_official_keys_on_load, convert_official_state_dict)

__all__ = [
    'DenoiseUNet', 'UnknownOfficialKeyError', 'convert_official_checkpoint',
    'convert_official_keys_on_load', 'convert_official_state_dict'
]
