"""COCO evaluation with Boundary AP (iouType ``'boundary'``)."""
from typing import List, Optional, Tuple

import numpy as np
from pycocotools.cocoeval import COCOeval

from .boundary import DEFAULT_DILATION_RATIO, attach_boundary_rles, min_mask_boundary_iou

IOU_TYPES = ('segm', 'bbox', 'keypoints', 'boundary')


class BoundaryCOCOeval(COCOeval):
    """pycocotools' ``COCOeval`` that also understands ``iouType='boundary'``.

    Boundary AP (Cheng et al., CVPR 2021) is COCO AP whose matching IoU for a
    detection/ground-truth pair is ``min(mask IoU, boundary IoU)``; crowd
    regions keep the mask IoU. Everything else (matching, area ranges,
    accumulation, summaries) is COCO's, so ``params`` keep ``iouType='segm'``
    internally and :attr:`iou_type` tells which IoU is used.

    Every mask's boundary is computed once, in :meth:`_prepare`, and stored as
    an RLE in the annotation's ``'boundary'`` field.

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
        if iouType not in IOU_TYPES:
            raise ValueError(f'iouType must be one of {IOU_TYPES}, got {iouType!r}')
        super().__init__(cocoGt, cocoDt, 'segm' if iouType == 'boundary' else iouType)
        self.iou_type = iouType
        self.dilation_ratio = dilation_ratio
        self.nproc = nproc

    def _prepare(self) -> None:
        super()._prepare()
        if self.iou_type != 'boundary':
            return
        attach_boundary_rles((self._gts, self._dts), self.dilation_ratio, self.nproc)

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

    def computeIoU(self, imgId: int, catId: int):
        """Mask IoU, or for ``'boundary'`` ``min(mask IoU, boundary IoU)``."""
        mask_ious = super().computeIoU(imgId, catId)
        if self.iou_type != 'boundary' or len(mask_ious) == 0:
            return mask_ious
        gts, dts = self._ranked_gt_dt(imgId, catId)
        crowd = [bool(gt['iscrowd']) for gt in gts]
        return min_mask_boundary_iou(mask_ious, dts, gts, keep_mask_iou=crowd)
