"""LVIS evaluation with Boundary AP, working under numpy >= 1.24.

``lvis`` 0.5.3 (the version on the package index) has no Boundary IoU, and its
``LVISEval.accumulate`` uses the alias ``np.float`` that numpy 1.24 removed.
:class:`BoundaryLVISEval` re-implements ``accumulate`` (same protocol, no
removed aliases, vectorised) instead of patching numpy or pinning an old one:
nothing outside this class changes, and the rest of ``LVISEval`` (federated
filtering, matching, summaries) is used as is.
"""
import datetime
import numpy as np
from lvis import LVISEval
from typing import List, Optional, Tuple

from .boundary import DEFAULT_DILATION_RATIO
from .boundary_eval import BoundaryIoUMixin

IOU_TYPES = ('segm', 'bbox', 'boundary')


class BoundaryLVISEval(BoundaryIoUMixin, LVISEval):
    """``LVISEval`` with ``iou_type='boundary'`` (:class:`BoundaryIoUMixin`; LVIS has no
    crowd regions) and a numpy-2-safe ``accumulate``. ``params`` keep ``iou_type='segm'``
    internally; :attr:`iou_type` tells which IoU is used.

    Args:
        lvis_gt: ``LVIS`` object or path of the annotation file.
        lvis_dt: ``LVISResults`` object, results file path or list of dicts.
        iou_type: ``'segm'``, ``'bbox'`` or ``'boundary'``.
        dilation_ratio: Boundary width as a fraction of the image diagonal.
        nproc: Processes for the boundary computation (``None``: every core).
    """

    def __init__(self,
                 lvis_gt,
                 lvis_dt,
                 iou_type: str = 'segm',
                 dilation_ratio: float = DEFAULT_DILATION_RATIO,
                 nproc: Optional[int] = 1) -> None:
        self._init_evaluator(lvis_gt, lvis_dt, iou_type, IOU_TYPES, 'iou_type', dilation_ratio,
                             nproc)

    def _ranked_gt_dt(self, img_id: int, cat_id: int) -> Tuple[List[dict], List[dict]]:
        """Ground truths and detections in the order ``LVISEval.compute_iou`` uses."""
        gts, dts = self._get_gt_dt(img_id, cat_id)
        order = np.argsort([-dt['score'] for dt in dts], kind='mergesort')
        return gts, [dts[i] for i in order]

    def compute_iou(self, img_id: int, cat_id: int):
        """Mask IoU, or for ``'boundary'`` ``min(mask IoU, boundary IoU)``."""
        return self._with_boundary_iou(super().compute_iou(img_id, cat_id), img_id, cat_id)

    def accumulate(self) -> None:
        """Precision/recall over all images, per IoU threshold, category and area.

        Fills ``self.eval`` with ``params``, ``counts``, ``date``,
        ``precision`` (``T x R x K x A``, -1 where a category has no ground
        truth) and ``recall`` (``T x K x A``), as ``LVISEval.accumulate`` does.
        """
        if not isinstance(self.eval_imgs, list):  # still the constructor's empty dict
            raise RuntimeError('Please run evaluate() first.')
        params = self.params
        num_cats = len(params.cat_ids) if params.use_cats else 1
        num_thrs = len(params.iou_thrs)
        num_recalls = len(params.rec_thrs)
        num_areas = len(params.area_rng)
        num_imgs = len(params.img_ids)

        precision = -np.ones((num_thrs, num_recalls, num_cats, num_areas))
        recall = -np.ones((num_thrs, num_cats, num_areas))
        # evaluate() lists eval_imgs by category, then area range, then image.
        for cat_idx in range(num_cats):
            for area_idx in range(num_areas):
                start = (cat_idx * num_areas + area_idx) * num_imgs
                entries = [e for e in self.eval_imgs[start:start + num_imgs] if e is not None]
                if not entries:
                    continue
                curves = self._precision_recall(entries)
                if curves is None:
                    continue
                precision[:, :, cat_idx, area_idx], recall[:, cat_idx, area_idx] = curves

        self.eval = {
            'params': params,
            'counts': [num_thrs, num_recalls, num_cats, num_areas],
            'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S'),
            'precision': precision,
            'recall': recall,
        }

    def _precision_recall(self, entries: List[dict]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """Interpolated precision at the recall thresholds, and final recall.

        Args:
            entries: ``evaluate_img`` outputs of one category and area range.

        Returns:
            ``(precision (T x R), recall (T,))``, or None when no ground truth
            counts (the category stays -1, i.e. absent).
        """
        gt_ignore = np.concatenate([e['gt_ignore'] for e in entries])
        num_gt = np.count_nonzero(gt_ignore == 0)
        if num_gt == 0:
            return None
        scores = np.concatenate([e['dt_scores'] for e in entries])
        order = np.argsort(-scores, kind='mergesort')
        matched = np.concatenate([e['dt_matches'] for e in entries], axis=1)[:, order] != 0
        ignored = np.concatenate([e['dt_ignore'] for e in entries], axis=1)[:, order] != 0

        tp = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
        fp = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
        num_thrs, num_dets = tp.shape
        rec_thrs = self.params.rec_thrs
        precision = np.zeros((num_thrs, len(rec_thrs)))
        recall = np.zeros(num_thrs)
        if num_dets == 0:
            return precision, recall
        for thr_idx in range(num_thrs):
            rc = tp[thr_idx] / num_gt
            pr = tp[thr_idx] / (tp[thr_idx] + fp[thr_idx] + np.spacing(1))
            # Precision envelope: the best precision at this recall or beyond.
            pr = np.maximum.accumulate(pr[::-1])[::-1]
            recall[thr_idx] = rc[-1]
            inds = np.searchsorted(rc, rec_thrs, side='left')
            reached = inds < num_dets
            precision[thr_idx, reached] = pr[inds[reached]]
        return precision, recall
