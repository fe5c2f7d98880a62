"""mmdet's ``CocoMetric`` with Boundary AP."""
from collections import OrderedDict
from mmdet.evaluation import CocoMetric
from mmengine.logging import MMLogger
from typing import Dict, List, Optional, Sequence, Union

from mmseg_refiner.registry import METRICS
from ..functional import (DEFAULT_DILATION_RATIO, check_boundary_settings, classwise_ap,
                          instances_to_coco_results, run_coco_eval)
from .classwise_table import report_classwise_ap

#: Index of each ``metric_items`` name in ``COCOeval.stats`` (as in mmdet).
COCO_STATS_INDEX = {
    'mAP': 0,
    'mAP_50': 1,
    'mAP_75': 2,
    'mAP_s': 3,
    'mAP_m': 4,
    'mAP_l': 5,
    'AR@100': 6,
    'AR@300': 7,
    'AR@1000': 8,
    'AR_s@1000': 9,
    'AR_m@1000': 10,
    'AR_l@1000': 11
}
DEFAULT_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


@METRICS.register_module()
class BoundaryCocoMetric(CocoMetric):
    """COCO Mask AP and Boundary AP (Cheng et al., CVPR 2021) of instance masks.

    Everything mmdet's ``CocoMetric`` does (``'bbox'``, ``'segm'``,
    ``'proposal'``, ``ann_file`` or dataset ground truth, ``classwise``,
    ``format_only``...) plus the metric ``'boundary'``: COCO AP with
    ``min(mask IoU, boundary IoU)`` as the matching IoU, evaluated with the
    same images, categories, ``proposal_nums`` (max detections) and IoU
    thresholds as ``'segm'``. Results are ``coco/segm_mAP``, ...,
    ``coco/boundary_mAP``, ``coco/boundary_mAP_50``, ...

    Args:
        ann_file: COCO-format annotation file (else converted from the dataset).
        metric: Metrics to evaluate; default ``['segm', 'boundary']``.
        dilation_ratio: Boundary width as a fraction of the image diagonal.
        nproc: Processes extracting boundaries (``None``: every core).
        **kwargs: Any other ``CocoMetric`` argument.
    """
    default_prefix: Optional[str] = 'coco'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 metric: Union[str, List[str]] = ('segm', 'boundary'),
                 dilation_ratio: float = DEFAULT_DILATION_RATIO,
                 nproc: Optional[int] = None,
                 **kwargs) -> None:
        metrics = [metric] if isinstance(metric, str) else list(metric)
        # CocoMetric knows every metric but 'boundary', which this class adds.
        super().__init__(
            ann_file=ann_file, metric=[m for m in metrics if m != 'boundary'], **kwargs)
        self.evaluate_boundary = 'boundary' in metrics
        self.dilation_ratio, self.nproc = check_boundary_settings(
            type(self).__name__, dilation_ratio, nproc)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """mmdet's metrics, then ``boundary_*`` when ``'boundary'`` is asked for."""
        eval_results = super().compute_metrics(results)
        if not self.evaluate_boundary or self.format_only:
            return eval_results
        eval_results = OrderedDict(eval_results)
        eval_results.update(self._compute_boundary_ap([pred for _, pred in results]))
        return eval_results

    def _compute_boundary_ap(self, preds: Sequence[dict]) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        logger.info('Evaluating boundary...')
        metric_items = list(self.metric_items or DEFAULT_ITEMS)
        unknown = [item for item in metric_items if item not in COCO_STATS_INDEX]
        if unknown:
            raise KeyError(f'metric items {unknown} are not supported; '
                           f'choose from {list(COCO_STATS_INDEX)}')
        coco_results = instances_to_coco_results(preds, self.cat_ids, 'boundary')
        if not coco_results:
            logger.error('The testing results of the whole dataset is empty.')
            return {}
        coco_eval = run_coco_eval(
            self._coco_api,
            coco_results,
            'boundary',
            max_dets=self.proposal_nums,
            img_ids=self.img_ids,
            cat_ids=self.cat_ids,
            iou_thrs=self.iou_thrs,
            dilation_ratio=self.dilation_ratio,
            nproc=self.nproc)
        eval_results = {}
        if self.classwise:
            names = [cat['name'] for cat in self._coco_api.loadCats(self.cat_ids)]
            eval_results.update(
                report_classwise_ap('boundary', names, classwise_ap(coco_eval.eval['precision'])))
        for item in metric_items:
            eval_results[f'boundary_{item}'] = round(
                float(coco_eval.stats[COCO_STATS_INDEX[item]]), 3)
        ap = coco_eval.stats[:6]
        logger.info('boundary_mAP_copypaste: ' + ' '.join(f'{v:.3f}' for v in ap))
        return eval_results
