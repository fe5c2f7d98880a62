"""Evaluate COCO-format instance results with the COCO or LVIS protocol.

Shared by the MMEngine metrics (:mod:`..metrics`) and
``tools/analysis_tools/eval_instance_results.py``. Results are COCO result
dicts: ``image_id``, ``category_id``, ``score`` and ``segmentation`` (RLE) for
mask / boundary evaluation or ``bbox`` (``xywh``) for box evaluation.
"""
import numpy as np
from lvis import LVIS, LVISResults
from pycocotools.coco import COCO
from typing import Dict, Iterable, List, Optional, Sequence, Union

from .boundary import DEFAULT_DILATION_RATIO
from .coco_boundary_eval import BoundaryCOCOeval
from .lvis_boundary_eval import BoundaryLVISEval

#: ``COCOeval.stats[:6]`` in order.
COCO_SUMMARY_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl')
#: ``LVISEval.results`` AP entries.
LVIS_SUMMARY_KEYS = COCO_SUMMARY_KEYS + ('APr', 'APc', 'APf')
#: Detections per image of each protocol (COCO: the last of ``maxDets``).
DEFAULT_MAX_DETS = {'coco': 100, 'lvis': 300}
IOU_TYPES = ('bbox', 'segm', 'boundary')

#: How many offending ids an error message lists before "...".
_IDS_SHOWN = 10


class ResultsMismatchError(ValueError):
    """Results that name images or categories absent from the ground truth."""


def _describe_ids(ids: Iterable[int]) -> str:
    ids = sorted(set(ids))
    shown = ', '.join(str(i) for i in ids[:_IDS_SHOWN])
    more = ', ...' if len(ids) > _IDS_SHOWN else ''
    return f'{shown}{more} ({len(ids)} distinct)'


def check_result_ids(results: Sequence[dict], img_ids: Iterable[int], cat_ids: Iterable[int],
                     source: str, gt_source: str) -> None:
    """Raise if results name image or category ids the ground truth lacks.

    Args:
        results: COCO result dicts.
        img_ids: Image ids of the ground truth.
        cat_ids: Category ids of the ground truth.
        source: Name of the results (e.g. its file path), used in messages.
        gt_source: Name of the ground truth, used in messages.

    Raises:
        ResultsMismatchError: listing the first unknown ids and their count.
    """
    img_ids, cat_ids = set(img_ids), set(cat_ids)
    bad_imgs = [r['image_id'] for r in results if r['image_id'] not in img_ids]
    bad_cats = [r['category_id'] for r in results if r['category_id'] not in cat_ids]
    problems = []
    if bad_imgs:
        problems.append(f'{len(bad_imgs)} results name image ids absent from {gt_source}: '
                        f'{_describe_ids(bad_imgs)}')
    if bad_cats:
        problems.append(f'{len(bad_cats)} results name category ids absent from {gt_source}: '
                        f'{_describe_ids(bad_cats)}')
    if problems:
        raise ResultsMismatchError(f'{source}: ' + '; '.join(problems))


def results_for_iou_type(results: Sequence[dict], iou_type: str, source: str) -> List[dict]:
    """Fresh copies of the result fields one evaluation needs.

    For mask and boundary evaluation the ``bbox`` is dropped: pycocotools and
    lvis would otherwise take the box area as the instance area and put
    instances in the wrong small/medium/large range. Copies, because the
    evaluation APIs write ``id`` / ``area`` into the dicts they get.

    Raises:
        ValueError: naming the source and result index of a malformed entry.
    """
    if iou_type not in IOU_TYPES:
        raise ValueError(f'iou_type must be one of {IOU_TYPES}, got {iou_type!r}')
    field = 'bbox' if iou_type == 'bbox' else 'segmentation'
    copies = []
    for index, result in enumerate(results):
        missing = [k for k in ('image_id', 'category_id', 'score', field) if k not in result]
        if missing:
            raise ValueError(f'{source}: result {index} lacks {missing} needed for '
                             f'{iou_type} evaluation')
        if field == 'segmentation' and not (isinstance(result[field], dict)
                                            and {'size', 'counts'} <= set(result[field])):
            raise ValueError(f'{source}: result {index} has a segmentation that is not a '
                             'COCO RLE dict with "size" and "counts"')
        copies.append({k: result[k] for k in ('image_id', 'category_id', 'score', field)})
    return copies


def run_coco_eval(coco_gt: COCO,
                  results: Sequence[dict],
                  iou_type: str,
                  max_dets: Sequence[int] = (1, 10, 100),
                  img_ids: Optional[Sequence[int]] = None,
                  cat_ids: Optional[Sequence[int]] = None,
                  iou_thrs: Optional[Union[float, Sequence[float]]] = None,
                  dilation_ratio: float = DEFAULT_DILATION_RATIO,
                  nproc: Optional[int] = 1) -> BoundaryCOCOeval:
    """Evaluate, accumulate and summarize (printing COCO's summary).

    Args:
        coco_gt: Ground truth.
        results: COCO result dicts (not modified).
        iou_type: ``'bbox'``, ``'segm'`` or ``'boundary'``.
        max_dets: ``params.maxDets``; AP uses the last one.
        img_ids: Restrict to these images (default: all of ``coco_gt``).
        cat_ids: Restrict to these categories (default: all).
        iou_thrs: Matching IoU thresholds (default 0.5:0.05:0.95).
        dilation_ratio: Boundary width as a fraction of the image diagonal.
        nproc: Processes for boundary extraction (``None``: every core).

    Returns:
        The summarized evaluator (``stats``, ``eval['precision']``...).
    """
    if not results:
        raise ValueError('there are no detections to evaluate')
    coco_dt = coco_gt.loadRes(results_for_iou_type(results, iou_type, 'results'))
    coco_eval = BoundaryCOCOeval(coco_gt, coco_dt, iou_type, dilation_ratio, nproc)
    if img_ids is not None:
        coco_eval.params.imgIds = list(img_ids)
    if cat_ids is not None:
        coco_eval.params.catIds = list(cat_ids)
    coco_eval.params.maxDets = list(max_dets)
    if iou_thrs is not None:
        coco_eval.params.iouThrs = np.atleast_1d(np.asarray(iou_thrs, dtype=np.float64))
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval


def run_lvis_eval(lvis_gt: LVIS,
                  results: Sequence[dict],
                  iou_type: str,
                  max_dets: int = DEFAULT_MAX_DETS['lvis'],
                  img_ids: Optional[Sequence[int]] = None,
                  dilation_ratio: float = DEFAULT_DILATION_RATIO,
                  nproc: Optional[int] = 1) -> BoundaryLVISEval:
    """Evaluate with the LVIS protocol and print its summary.

    Args:
        lvis_gt: Ground truth (LVIS format: category ``frequency``, image
            ``neg_category_ids`` / ``not_exhaustive_category_ids``).
        results: COCO result dicts (not modified).
        iou_type: ``'bbox'``, ``'segm'`` or ``'boundary'``.
        max_dets: Detections kept per image (highest scores), LVIS: 300.
        img_ids: Restrict to these images (default: all of ``lvis_gt``).
        dilation_ratio: Boundary width as a fraction of the image diagonal.
        nproc: Processes for boundary extraction (``None``: every core).

    Returns:
        The summarized evaluator (``results``, ``eval['precision']``...).
    """
    if not results:
        raise ValueError('there are no detections to evaluate')
    lvis_dt = LVISResults(
        lvis_gt, results_for_iou_type(results, iou_type, 'results'), max_dets=max_dets)
    lvis_eval = BoundaryLVISEval(lvis_gt, lvis_dt, iou_type, dilation_ratio, nproc)
    lvis_eval.params.max_dets = max_dets
    if img_ids is not None:
        lvis_eval.params.img_ids = sorted(img_ids)
    lvis_eval.run()
    lvis_eval.print_results()
    return lvis_eval


def summarize_eval(evaluator: Union[BoundaryCOCOeval, BoundaryLVISEval]) -> Dict[str, float]:
    """AP figures of a summarized evaluator as fractions (-1: nothing to score).

    Returns:
        ``AP, AP50, AP75, APs, APm, APl`` (and ``APr, APc, APf`` for LVIS).
    """
    if isinstance(evaluator, BoundaryLVISEval):
        return {key: float(evaluator.results[key]) for key in LVIS_SUMMARY_KEYS}
    return {key: float(value) for key, value in zip(COCO_SUMMARY_KEYS, evaluator.stats)}


def classwise_ap(precision: np.ndarray) -> np.ndarray:
    """Per-category AP (all areas, most detections) from ``eval['precision']``.

    Args:
        precision: COCO ``T x R x K x A x M`` or LVIS ``T x R x K x A`` array,
            -1 where undefined.

    Returns:
        ``(K,)`` APs, NaN for categories without ground truth.
    """
    per_cat = precision[..., 0, -1] if precision.ndim == 5 else precision[..., 0]
    aps = np.full(per_cat.shape[2], np.nan)
    for k in range(per_cat.shape[2]):
        values = per_cat[:, :, k]
        values = values[values > -1]
        if values.size:
            aps[k] = values.mean()
    return aps


def instances_to_coco_results(preds: Sequence[dict], cat_ids: Sequence[int],
                              iou_type: str) -> List[dict]:
    """COCO result dicts from the per-image results mmdet's ``CocoMetric`` keeps.

    Args:
        preds: Dicts with ``img_id``, ``labels``, ``scores``, ``bboxes``
            (``xyxy``), ``masks`` (RLE list, for masks) and optionally
            ``mask_scores``.
        cat_ids: Category id of each label index.
        iou_type: ``'bbox'`` (boxes) or ``'segm'`` / ``'boundary'`` (masks).

    Returns:
        One dict per instance: ``image_id``, ``category_id``, ``score`` and
        ``bbox`` (``xywh``) or ``segmentation``.
    """
    coco_results = []
    for pred in preds:
        use_masks = iou_type != 'bbox'
        if use_masks and 'masks' not in pred:
            raise ValueError(f'image {pred["img_id"]}: {iou_type} evaluation needs predicted '
                             'masks (pred_instances.masks)')
        scores = pred.get('mask_scores', pred['scores']) if use_masks else pred['scores']
        for i, label in enumerate(pred['labels']):
            result = dict(
                image_id=pred['img_id'], category_id=cat_ids[int(label)], score=float(scores[i]))
            if use_masks:
                result['segmentation'] = pred['masks'][i]
            else:
                x1, y1, x2, y2 = (float(v) for v in pred['bboxes'][i])
                result['bbox'] = [x1, y1, x2 - x1, y2 - y1]
            coco_results.append(result)
    return coco_results
