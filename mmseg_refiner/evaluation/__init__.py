"""Evaluation: Boundary AP (COCO / LVIS protocols) and IoU / mBA of refined masks.

Importing registers the metrics; the pure functions live in ``functional``.
"""
from . import functional  # noqa: F401
from .metrics import BoundaryCocoMetric, BoundaryLVISMetric, RefinedMaskMetric

__all__ = ['BoundaryCocoMetric', 'BoundaryLVISMetric', 'RefinedMaskMetric']
