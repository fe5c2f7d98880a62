"""MMEngine metrics, registered in ``mmseg_refiner.registry.METRICS``."""
from .boundary_coco_metric import BoundaryCocoMetric
from .boundary_lvis_metric import BoundaryLVISMetric
from .refined_mask_metric import RefinedMaskMetric

__all__ = ['BoundaryCocoMetric', 'BoundaryLVISMetric', 'RefinedMaskMetric']
