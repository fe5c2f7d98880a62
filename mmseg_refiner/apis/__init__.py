"""Refining any image and mask from Python: ``init_refiner`` and ``refine``."""
from .inference import (AUTO_SEMANTIC_FACTOR, default_device, demo_model_files, init_refiner,
                        refine, resolve_mode)
from .inputs import read_mask_file, to_bgr_image, to_bool_masks, to_uint8_mask, write_image_atomic

__all__ = [
    'AUTO_SEMANTIC_FACTOR', 'default_device', 'demo_model_files', 'init_refiner', 'refine',
    'resolve_mode', 'read_mask_file', 'to_bgr_image', 'to_bool_masks', 'to_uint8_mask',
    'write_image_atomic'
]
