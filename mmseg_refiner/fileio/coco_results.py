"""Validating a COCO results file (a list of detections) before any work starts.

One validator serves every reader of saved results (``tools/refine_coco_results.py``
through :class:`~mmseg_refiner.datasets.CocoResultsRefineDataset`, and
``tools/analysis_tools/eval_instance_results.py``). A record is::

    {"image_id": int, "category_id": int, "score": finite number,
     "segmentation": RLE {"size": [h, w], "counts": str | list} or polygons,
     "bbox": [x, y, w, h] (optional)}

Anything else is refused with a :class:`CocoResultsError` naming the file, the
record's index and the field, e.g. ``results.json: record 12, score: NaN is
not a finite number``: a NaN score would otherwise change AP silently or end a
long refinement while writing JSON, a truncated RLE is decoded from garbage,
and a 4-number polygon is taken for a box by pycocotools. Segmentations are
checked by :func:`mmseg_refiner.fileio.rle.validate_segmentation`, the check
the one decoder runs.
"""
import json
import math
from numbers import Integral, Real
from typing import Any, List, Sequence

from .rle import validate_segmentation

#: Fields every record must have; ``segmentation`` and ``bbox`` as the reader requires.
REQUIRED_FIELDS = ('image_id', 'category_id', 'score')


class CocoResultsError(ValueError):
    """A COCO results file that is not a valid list of detections; names file, record, field."""


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + '...'


def _check_id(record: dict, field: str) -> str:
    value = record[field]
    if _is_int(value):
        return ''
    if isinstance(value, str):
        hint = f' (write {int(value)})' if value.strip().lstrip('-').isdigit() else ''
        return (f'{field} is the string {value!r}, ids are integers in COCO files{hint}; '
                f'"100" and 100 are different ids')
    if isinstance(value, float) and value.is_integer():
        return f'{field} is the float {value!r}, ids are integers (write {int(value)})'
    return f'{field} must be an integer, got {_describe(value)}'


def _check_score(value: Any) -> str:
    if isinstance(value, str):
        return f'score is the string {_describe(value)}, scores are numbers'
    if isinstance(value, Real) and not isinstance(value, bool) and not math.isfinite(value):
        return f'score: {value} is not a finite number'
    if not _is_finite_number(value):
        return f'score must be a number, got {_describe(value)}'
    return ''


def _check_bbox(value: Any) -> str:
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        length = f' of {len(value)} numbers' if isinstance(value, (list, tuple)) else ''
        return f'bbox must be [x, y, width, height] (4 numbers), got {_describe(value)}{length}'
    if not all(_is_finite_number(v) for v in value):
        return f'bbox holds a value that is not a finite number: {_describe(value)}'
    if value[2] < 0 or value[3] < 0:
        return f'bbox has a negative width or height: {_describe(value)}'
    return ''


def _check_segmentation(value: Any) -> str:
    """What is wrong with a COCO segmentation (RLE or polygons), or ``''``.

    The one check of :func:`mmseg_refiner.fileio.rle.validate_segmentation`
    (the one the decoder runs), so what passes here decodes.
    """
    try:
        validate_segmentation(value, name='segmentation')
    except ValueError as err:
        return str(err)
    return ''


def record_problem(record: Any, require: Sequence[str] = ('segmentation', )) -> str:
    """What is wrong with one detection record, as ``'<field> ...'``, or ``''``.

    ``require`` names the optional fields this reader needs (``segmentation``,
    ``bbox``); those present are checked either way (``bbox`` may be null).
    """
    if not isinstance(record, dict):
        return f'is a {type(record).__name__}, not a detection object'
    missing = [field for field in (*REQUIRED_FIELDS, *require) if field not in record]
    if missing:
        return f'lacks {", ".join(missing)}'
    problems = [
        _check_id(record, 'image_id'),
        _check_id(record, 'category_id'),
        _check_score(record['score'])
    ]
    if 'segmentation' in record:
        problems.append(_check_segmentation(record['segmentation']))
    if record.get('bbox') is not None or 'bbox' in require:
        problems.append(_check_bbox(record['bbox']))
    return next((problem for problem in problems if problem), '')


def validate_coco_results(results: Any, source: str,
                          require: Sequence[str] = ('segmentation', )) -> List[dict]:
    """Check every record of a loaded COCO results file.

    Args:
        results: the loaded JSON.
        source: its file name, for messages.
        require: the optional fields every record must carry: ``segmentation``
            (refining, mask evaluation) and / or ``bbox`` (box evaluation).

    Returns:
        ``results`` (a list; it may be empty).

    Raises:
        CocoResultsError: ``results`` is not a list, or naming the first bad
            record's index and field.
    """
    if not isinstance(results, list):
        raise CocoResultsError(f'{source} is not a COCO results file: it holds a '
                               f'{type(results).__name__}, not a list of detections')
    for index, record in enumerate(results):
        problem = record_problem(record, require)
        if problem:
            raise CocoResultsError(f'{source}: record {index} {problem}' if problem.startswith((
                'is a', 'lacks')) else f'{source}: record {index}, {problem}')
    return results


def load_coco_results(path: str, require: Sequence[str] = ('segmentation', )) -> List[dict]:
    """Read and validate a COCO results JSON (NaN / Infinity literals are refused too).

    Raises:
        FileNotFoundError: no such file.
        CocoResultsError: not JSON, or a bad record (see :func:`validate_coco_results`).
    """
    try:
        with open(path, encoding='utf-8') as f:
            results = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f'results file {path} does not exist') from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CocoResultsError(f'{path} is not a JSON file: {err}') from None
    return validate_coco_results(results, path, require)
