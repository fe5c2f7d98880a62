"""Hooks of mmseg_refiner."""
from .refined_mask_writer import RefinedMaskWriter

__all__ = ['RefinedMaskWriter']
