"""LVIS-protocol Mask AP and Boundary AP that works under numpy >= 1.24."""
from collections import OrderedDict
from mmdet.evaluation import LVISMetric
from mmengine.logging import MMLogger
from typing import Dict, List, Optional, Sequence, Union

from mmseg_refiner.registry import METRICS
from mmseg_refiner.utils.settings import check_int
from ..functional import (DEFAULT_DILATION_RATIO, DEFAULT_MAX_DETS, LVIS_SUMMARY_KEYS,
                          check_boundary_settings, classwise_ap, instances_to_coco_results,
                          run_lvis_eval)
from .classwise_table import report_classwise_ap

LVIS_METRICS = ('bbox', 'segm', 'boundary')


@METRICS.register_module()
class BoundaryLVISMetric(LVISMetric):
    """LVIS AP of boxes, masks and boundaries (the paper's COCO/LVIS protocol).

    Takes the per-image results of mmdet's ``LVISMetric`` (``pred_instances``
    with ``bboxes``, ``scores``, ``labels``, ``masks``) and evaluates them with
    :class:`~mmseg_refiner.evaluation.functional.BoundaryLVISEval`: the LVIS
    protocol (federated ground truth, ``max_dets`` detections per image,
    APr/APc/APf) without ``lvis`` 0.5.3's numpy-2 crash, plus Boundary AP
    (``min(mask IoU, boundary IoU)`` as matching IoU). Results are
    ``lvis/segm_AP``, ``lvis/segm_APr``, ..., ``lvis/boundary_AP``, ...

    The paper's setting: ``ann_file`` is the "cocofied" LVIS v1 val file made by
    ``tools/dataset_converters/cocofy_lvis.py``, ``max_dets=300``.

    Args:
        ann_file: LVIS-format annotation file (category ``frequency``, image
            ``neg_category_ids`` / ``not_exhaustive_category_ids``). Required:
            the LVIS protocol needs these fields, which a dataset cannot supply.
        metric: Any of ``'bbox'``, ``'segm'``, ``'boundary'``; default
            ``['segm', 'boundary']``.
        classwise: Also log and return per-category AP.
        metric_items: Result names to report (default: AP, AP50, AP75, APs,
            APm, APl, APr, APc, APf; LVIS' ``AR@300``... are also accepted).
        format_only: Only write the result files to ``outfile_prefix``.
        outfile_prefix: Prefix of the result json files.
        max_dets: Detections kept per image (highest scores).
        dilation_ratio: Boundary width as a fraction of the image diagonal.
        nproc: Processes extracting boundaries (``None``: every core).
        collect_device: ``'cpu'`` or ``'gpu'``, for distributed collection.
        prefix: Metric name prefix (default ``'lvis'``).
        backend_args: File backend arguments for ``ann_file``.
    """
    default_prefix: Optional[str] = 'lvis'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 metric: Union[str, List[str]] = ('segm', 'boundary'),
                 classwise: bool = False,
                 metric_items: Optional[Sequence[str]] = None,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 max_dets: int = DEFAULT_MAX_DETS['lvis'],
                 dilation_ratio: float = DEFAULT_DILATION_RATIO,
                 nproc: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        metrics = [metric] if isinstance(metric, str) else list(metric)
        unknown = [m for m in metrics if m not in LVIS_METRICS]
        if unknown:
            raise KeyError(f'metric should be among {LVIS_METRICS}, got {unknown}')
        if ann_file is None:
            raise ValueError('BoundaryLVISMetric needs ann_file: an LVIS-format annotation '
                             'file (category frequencies, negative / not-exhaustive category '
                             'ids per image)')
        # LVISMetric loads ann_file; it validates `metric` against its own list
        # and this class runs its own evaluation loop, so the list is set after.
        super().__init__(
            ann_file=ann_file,
            metric='bbox',
            classwise=classwise,
            metric_items=metric_items,
            format_only=format_only,
            outfile_prefix=outfile_prefix,
            collect_device=collect_device,
            prefix=prefix,
            backend_args=backend_args)
        self.metrics = metrics
        self.ann_file = ann_file
        self.max_dets = check_int(type(self).__name__, 'max_dets', max_dets, low=1)
        self.dilation_ratio, self.nproc = check_boundary_settings(
            type(self).__name__, dilation_ratio, nproc)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """LVIS AP of every requested metric, as ``{metric}_{item}`` fractions."""
        logger = MMLogger.get_current_instance()
        preds = [pred for _, pred in results]
        if self.cat_ids is None:
            self.cat_ids = self._lvis_api.get_cat_ids()
        if self.img_ids is None:
            self.img_ids = self._lvis_api.get_img_ids()
        eval_results = OrderedDict()
        if self.format_only:
            self.results2json(preds, self.outfile_prefix)
            logger.info(f'results are saved with the prefix {self.outfile_prefix}')
            return eval_results

        preds = self._drop_images_without_ground_truth(preds)
        metric_items = list(self.metric_items or LVIS_SUMMARY_KEYS)
        for metric in self.metrics:
            logger.info(f'Evaluating {metric}...')
            coco_results = instances_to_coco_results(preds, self.cat_ids, metric)
            if not coco_results:
                logger.error('The testing results of the whole dataset is empty.')
                break
            lvis_eval = run_lvis_eval(
                self._lvis_api,
                coco_results,
                metric,
                max_dets=self.max_dets,
                img_ids=self.img_ids,
                dilation_ratio=self.dilation_ratio,
                nproc=self.nproc)
            if self.classwise:
                names = [cat['name'] for cat in self._lvis_api.load_cats(lvis_eval.params.cat_ids)]
                eval_results.update(
                    report_classwise_ap(metric, names, classwise_ap(lvis_eval.eval['precision'])))
            unknown = [item for item in metric_items if item not in lvis_eval.results]
            if unknown:
                raise KeyError(f'metric items {unknown} are not supported; '
                               f'choose from {list(lvis_eval.results)}')
            for item in metric_items:
                eval_results[f'{metric}_{item}'] = round(float(lvis_eval.results[item]), 3)
        return eval_results

    def _drop_images_without_ground_truth(self, preds: List[dict]) -> List[dict]:
        """Leave out (with a warning) images the annotation file does not cover.

        The LVIS protocol cannot score them; this happens e.g. when a COCO val
        dataloader runs against LVIS annotations that lack a few of its images.
        """
        known = set(self.img_ids)
        unknown = sorted({pred['img_id'] for pred in preds} - known)
        if unknown:
            MMLogger.get_current_instance().warning(
                f'{len(unknown)} evaluated images are not in {self.ann_file} and are left out '
                f'of the LVIS evaluation (first ids: {unknown[:10]})')
        return [pred for pred in preds if pred['img_id'] in known]
