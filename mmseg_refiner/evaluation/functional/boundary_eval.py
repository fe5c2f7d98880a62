"""What Boundary AP adds to a COCO-style evaluator (pycocotools' ``COCOeval``, ``lvis``'
``LVISEval``): the ``'boundary'`` IoU type."""
from typing import List, Optional, Sequence

from .boundary import attach_boundary_rles, min_mask_boundary_iou


class BoundaryIoUMixin:
    """Boundary AP (Cheng et al., CVPR 2021) on a COCO-style evaluator: COCO / LVIS AP
    whose matching IoU for a detection/ground-truth pair is ``min(mask IoU, boundary IoU)``.

    The evaluator itself runs with ``'segm'`` for ``'boundary'`` (matching, area ranges,
    accumulation and summaries are its own); :attr:`iou_type` tells which IoU is used.
    Every mask's boundary is computed once, in :meth:`_prepare`, and stored as an RLE in
    the annotation's ``'boundary'`` field.

    A subclass lists this mixin before the evaluator, calls :meth:`_init_evaluator` from
    its constructor, returns :meth:`_with_boundary_iou` from the evaluator's IoU method,
    and defines ``_ranked_gt_dt`` (the order in which that method lists the pairs).
    """

    def _init_evaluator(self, gt, dt, iou_type: str, iou_types: Sequence[str], arg_name: str,
                        dilation_ratio: float, nproc: Optional[int]) -> None:
        if iou_type not in iou_types:
            raise ValueError(f'{arg_name} must be one of {iou_types}, got {iou_type!r}')
        super().__init__(gt, dt, 'segm' if iou_type == 'boundary' else iou_type)
        self.iou_type = iou_type
        self.dilation_ratio = dilation_ratio
        self.nproc = nproc

    def _prepare(self) -> None:
        super()._prepare()
        if self.iou_type != 'boundary':
            return
        attach_boundary_rles((self._gts, self._dts), self.dilation_ratio, self.nproc)

    def _keep_mask_iou(self, gts: Sequence[dict]) -> Optional[List[bool]]:
        """Per ground truth, whether its column keeps the mask IoU (``None``: none does)."""
        return None

    def _with_boundary_iou(self, mask_ious, img_id: int, cat_id: int):
        """``mask_ious`` of an image and category, or for ``'boundary'``
        ``min(mask IoU, boundary IoU)``."""
        if self.iou_type != 'boundary' or len(mask_ious) == 0:
            return mask_ious
        gts, dts = self._ranked_gt_dt(img_id, cat_id)
        return min_mask_boundary_iou(mask_ious, dts, gts, keep_mask_iou=self._keep_mask_iou(gts))
