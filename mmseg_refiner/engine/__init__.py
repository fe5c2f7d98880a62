"""Hooks and loops of mmseg_refiner."""
from .hooks import RefinedMaskWriter

__all__ = ['RefinedMaskWriter']
