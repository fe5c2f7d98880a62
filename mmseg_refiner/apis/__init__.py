"""Refining any image and mask from Python: ``init_refiner`` and ``refine``."""
from .inference import (AUTO_GLOBAL_LOCAL_FACTOR, MODES, default_device, demo_model_files,
                        init_refiner, refine, resolve_mode)
from .inputs import to_bgr_image, to_bool_masks

__all__ = [
    'AUTO_GLOBAL_LOCAL_FACTOR', 'MODES', 'default_device', 'demo_model_files', 'init_refiner',
    'refine', 'resolve_mode', 'to_bgr_image', 'to_bool_masks'
]
