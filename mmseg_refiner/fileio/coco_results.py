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
and a 4-number polygon is taken for a box by pycocotools.
"""
import json
import math
from numbers import Integral, Real
from typing import Any, List, Sequence

import pycocotools.mask as mask_utils

#: Fields every record must have; ``segmentation`` and ``bbox`` as the reader requires.
REQUIRED_FIELDS = ('image_id', 'category_id', 'score')
#: A polygon needs at least three (x, y) points.
MIN_POLYGON_NUMBERS = 6


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


def _compressed_counts(counts: str) -> List[int]:
    """Run lengths of a compressed COCO RLE string (the format of pycocotools' ``rleFrString``).

    Raises:
        ValueError: a character outside the format's alphabet, or a string cut
            inside a number.
    """
    runs: List[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                raise ValueError('the counts string ends inside a run length (truncated)')
            code = ord(counts[position]) - 48
            if not 0 <= code < 64:
                raise ValueError(f'the counts string holds {counts[position]!r}, which is not '
                                 f'a character of the compressed RLE format')
            value |= (code & 0x1f) << (5 * shift)
            more = bool(code & 0x20)
            position += 1
            shift += 1
            if not more and code & 0x10:
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def _check_segmentation(value: Any) -> str:
    """What is wrong with a COCO segmentation (RLE or polygons), or ``''``.

    The RLE checks (sizes, run lengths summing to ``h * w``, the compressed
    string's alphabet) and the polygon checks belong with the RLE code of
    ``mmseg_refiner.fileio.rle``; they are here, with pycocotools decoding the
    polygons, until that module exists.
    """
    if isinstance(value, dict):
        if not {'size', 'counts'} <= set(value):
            return ('segmentation must be an RLE {"size": [h, w], "counts": ...} or polygons; '
                    f'this dict has keys {sorted(value)}')
        size = value['size']
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(
                _is_int(v) and v >= 0 for v in size)):
            return f'segmentation.size must be [height, width] (2 integers), got {_describe(size)}'
        counts = value['counts']
        if isinstance(counts, bytes):
            try:
                counts = counts.decode('ascii')
            except UnicodeDecodeError:
                return 'segmentation.counts holds bytes that are not ASCII (not a COCO RLE)'
        if isinstance(counts, str):
            try:
                runs = _compressed_counts(counts)
            except ValueError as err:
                return f'segmentation.counts is not a valid compressed RLE: {err}'
        elif isinstance(counts, list):
            if not all(_is_int(v) for v in counts):
                return 'segmentation.counts (an uncompressed RLE) must hold integers only'
            runs = counts
        else:
            return f'segmentation.counts must be a string or a list, got {type(counts).__name__}'
        if any(run < 0 for run in runs):
            return 'segmentation.counts holds a negative run length (garbage or truncated RLE)'
        pixels = size[0] * size[1]
        if sum(runs) != pixels:
            return (f'segmentation.counts covers {sum(runs)} pixels, its size {list(size)} has '
                    f'{pixels} (a truncated or garbage RLE)')
        return ''
    if isinstance(value, list):
        if not value:
            return 'segmentation is an empty list of polygons'
        for number, polygon in enumerate(value):
            if not isinstance(polygon, (list, tuple)) or not all(
                    _is_finite_number(v) for v in polygon):
                return f'segmentation polygon {number} must be a list of finite numbers'
            if len(polygon) < MIN_POLYGON_NUMBERS or len(polygon) % 2:
                return (f'segmentation polygon {number} has {len(polygon)} numbers; a polygon '
                        f'is x1, y1, x2, y2, ... with at least 3 points '
                        f'({MIN_POLYGON_NUMBERS} numbers, an even count)')
        try:
            mask_utils.frPyObjects([list(map(float, p)) for p in value], 1, 1)
        except Exception as err:  # pycocotools' own refusal
            return f'segmentation polygons are refused by pycocotools: {err}'
        return ''
    return f'segmentation must be an RLE dict or a list of polygons, got {_describe(value)}'


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
    problems = [_check_id(record, 'image_id'), _check_id(record, 'category_id'),
                _check_score(record['score'])]
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
            raise CocoResultsError(f'{source}: record {index} {problem}'
                                   if problem.startswith(('is a', 'lacks')) else
                                   f'{source}: record {index}, {problem}')
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


