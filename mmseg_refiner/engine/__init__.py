"""Hooks, loops and optimizer wrappers of mmseg_refiner."""
from .hooks import RefinedMaskWriter
from .optimizers import BF16AmpOptimWrapper

__all__ = ['BF16AmpOptimWrapper', 'RefinedMaskWriter']
