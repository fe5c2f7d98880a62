"""COCO evaluation with Boundary AP (iouType ``'boundary'``)."""
import numpy as np
from pycocotools.cocoeval import COCOeval
from typing import List, Optional, Sequence, Tuple

from .boundary import DEFAULT_DILATION_RATIO
from .boundary_eval import BoundaryIoUMixin

IOU_TYPES = ('segm', 'bbox', 'keypoints', 'boundary')


class BoundaryCOCOeval(BoundaryIoUMixin, COCOeval):
    """pycocotools' ``COCOeval`` that also understands ``iouType='boundary'``
    (:class:`BoundaryIoUMixin`); crowd regions keep the mask IoU. ``params`` keep
    ``iouType='segm'`` internally and :attr:`iou_type` tells which IoU is used.

    Args:
        cocoGt: Ground truth ``COCO`` object.
        cocoDt: Detections (``cocoGt.loadRes(...)``).
        iouType: ``'segm'``, ``'bbox'``, ``'keypoints'`` or ``'boundary'``.
        dilation_ratio: Boundary width as a fraction of the image diagonal.
        nproc: Processes for the boundary computation (``None``: every core).
    """

    def __init__(self,
                 cocoGt=None,
                 cocoDt=None,
                 iouType: str = 'segm',
                 dilation_ratio: float = DEFAULT_DILATION_RATIO,
                 nproc: Optional[int] = 1) -> None:
        self._init_evaluator(cocoGt, cocoDt, iouType, IOU_TYPES, 'iouType', dilation_ratio, nproc)

    def _ranked_gt_dt(self, img_id: int, cat_id: int) -> Tuple[List[dict], List[dict]]:
        """Ground truths and detections in the order ``COCOeval.computeIoU`` uses."""
        params = self.params
        if params.useCats:
            gts = self._gts[img_id, cat_id]
            dts = self._dts[img_id, cat_id]
        else:
            gts = [ann for cid in params.catIds for ann in self._gts[img_id, cid]]
            dts = [ann for cid in params.catIds for ann in self._dts[img_id, cid]]
        order = np.argsort([-dt['score'] for dt in dts], kind='mergesort')
        dts = [dts[i] for i in order[:params.maxDets[-1]]]
        return gts, dts

    def _keep_mask_iou(self, gts: Sequence[dict]) -> List[bool]:
        """Crowd regions keep the mask IoU."""
        return [bool(gt['iscrowd']) for gt in gts]

    def computeIoU(self, imgId: int, catId: int):
        """Mask IoU, or for ``'boundary'`` ``min(mask IoU, boundary IoU)``."""
        return self._with_boundary_iou(super().computeIoU(imgId, catId), imgId, catId)
