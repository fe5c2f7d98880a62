"""MMEngine metrics, registered in ``mmseg_refiner.registry.METRICS``."""
from .boundary_coco_metric import BoundaryCocoMetric
from .boundary_lvis_metric import BoundaryLVISMetric
from .hr_mask_metric import HRMaskMetric

__all__ = ['BoundaryCocoMetric', 'BoundaryLVISMetric', 'HRMaskMetric']
