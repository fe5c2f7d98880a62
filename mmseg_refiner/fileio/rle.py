"""COCO ``segmentation`` encode / decode / validate: polygons and RLE, compressed or not.

The forms (as in COCO and LVIS annotation and results files):

- **polygons**: a list of parts, each a flat ``[x0, y0, x1, y1, ...]`` list of
  at least 3 points (6 numbers); the parts of one instance are merged. Fewer
  numbers are refused: pycocotools would read a 4-number list as a *box*.
- **uncompressed RLE**: ``{'size': [h, w], 'counts': [n0, n1, ...]}``, run
  lengths in column-major order starting with background, summing to ``h * w``.
- **compressed RLE**: the same with ``counts`` a string (or bytes) in COCO's
  LEB128-like text code (5 bits per character, offset 48, ``0x20`` = more
  characters follow, ``0x10`` = sign of the last one, each count after the
  second stored as the difference to the count two before).

:func:`validate_segmentation` checks a segmentation completely (it decodes the
compressed counts itself, so a truncated or garbage string is an error here,
not a silently wrong mask in pycocotools) and raises ``ValueError`` naming the
record. :func:`decode_segmentation` validates, then rasterises.
"""
import numpy as np
from pycocotools import mask as mask_utils
from typing import List, Optional, Sequence, Union

#: A COCO/LVIS ``segmentation``: polygons, or an RLE dict.
Segmentation = Union[List[Sequence[float]], dict]

_CODE_OFFSET = 48
_CODE_RANGE = 64


def rle_counts_from_string(counts: Union[str, bytes], name: str = 'segmentation') -> List[int]:
    """Run lengths of a compressed RLE string (COCO's ``rleFrString``), checked.

    Raises:
        ValueError: a character outside COCO's code, a string cut inside a
            number, or a negative run length.
    """
    if isinstance(counts, bytes):
        try:
            counts = counts.decode('ascii')
        except UnicodeDecodeError:
            raise ValueError(f'{name}: compressed RLE counts are not ASCII text') from None
    runs: List[int] = []
    value, shift, more = 0, 0, False
    for position, char in enumerate(counts):
        code = ord(char) - _CODE_OFFSET
        if not 0 <= code < _CODE_RANGE:
            raise ValueError(f'{name}: compressed RLE counts hold {char!r} at position '
                             f'{position}, which is not in COCO\'s code (garbage counts)')
        value |= (code & 0x1f) << shift
        shift += 5
        more = bool(code & 0x20)
        if more:
            continue
        if code & 0x10:
            value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            raise ValueError(f'{name}: compressed RLE counts give a negative run length '
                             f'({value}, run {len(runs)}): garbage counts')
        runs.append(value)
        value, shift = 0, 0
    if more:
        raise ValueError(f'{name}: compressed RLE counts end inside a number (truncated)')
    return runs


def _check_size(size, height: Optional[int], width: Optional[int], name: str) -> None:
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) and v >= 0 for v in size)):
        raise ValueError(f'{name}: RLE size must be [height, width], got {size!r}')
    if height is not None and width is not None and list(size) != [height, width]:
        raise ValueError(f'{name}: RLE size {list(size)} differs from its image\'s '
                         f'{[height, width]} (height, width)')


def _check_polygons(polygons: list, name: str) -> None:
    if not polygons:
        raise ValueError(f'{name}: segmentation is an empty list of polygons')
    for index, part in enumerate(polygons):
        if isinstance(part, np.ndarray) and part.ndim == 1:  # as datasets keep them in memory
            part = part.tolist()
        if not isinstance(part, (list, tuple)):
            raise ValueError(f'{name}: polygon {index} is a {type(part).__name__}; polygons are '
                             f'a list of [x0, y0, x1, y1, ...] lists')
        if len(part) < 6 or len(part) % 2:
            raise ValueError(f'{name}: polygon {index} has {len(part)} numbers; a polygon needs '
                             f'an even number, at least 6 (3 points)')
        if not all(isinstance(v, (int, float, np.number)) and np.isfinite(v) for v in part):
            raise ValueError(f'{name}: polygon {index} holds values that are not finite numbers')


def validate_segmentation(segmentation,
                          height: Optional[int] = None,
                          width: Optional[int] = None,
                          name: str = 'segmentation') -> None:
    """Check a COCO segmentation (module docstring) without rasterising it.

    Args:
        segmentation: polygons or an RLE dict.
        height, width: the image's size; when given, an RLE's ``size`` must
            equal it.
        name: names the record in errors (e.g. ``'detection 12 of r.json'``).

    Raises:
        ValueError: naming the record and what is wrong.
    """
    if isinstance(segmentation, list):
        _check_polygons(segmentation, name)
        return
    if not isinstance(segmentation, dict) or not {'size', 'counts'} <= set(segmentation):
        raise ValueError(f'{name}: segmentation is neither polygons nor an RLE dict with '
                         f'"size" and "counts" (got {type(segmentation).__name__})')
    size = segmentation['size']
    _check_size(size, height, width, name)
    counts = segmentation['counts']
    if isinstance(counts, (str, bytes)):
        runs = rle_counts_from_string(counts, name)
    elif isinstance(counts, list):
        if not all(isinstance(v, (int, np.integer)) and v >= 0 for v in counts):
            raise ValueError(f'{name}: uncompressed RLE counts must be non-negative integers')
        runs = counts
    else:
        raise ValueError(f'{name}: RLE counts must be a string or a list, got '
                         f'{type(counts).__name__}')
    total = int(sum(runs))
    if total != size[0] * size[1]:
        raise ValueError(f'{name}: RLE counts cover {total} pixels, its size {list(size)} has '
                         f'{size[0] * size[1]} (truncated or garbage counts)')


def decode_segmentation(segmentation: Segmentation,
                        height: int,
                        width: int,
                        name: str = 'segmentation') -> np.ndarray:
    """Validate and rasterise a COCO segmentation to an ``HxW uint8`` {0, 1} mask.

    Raises:
        ValueError: see :func:`validate_segmentation`.
    """
    validate_segmentation(segmentation, height, width, name)
    if isinstance(segmentation, list):
        rle = mask_utils.merge(
            mask_utils.frPyObjects([[float(v) for v in part] for part in segmentation], height,
                                   width))
    elif isinstance(segmentation['counts'], list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return decode_rle(rle)


def decode_rle(rle: dict) -> np.ndarray:
    """Rasterise a **trusted** RLE (one pycocotools made, as evaluation APIs hold them).

    No validation: for RLEs from a file, use :func:`decode_segmentation`.
    """
    return np.ascontiguousarray(mask_utils.decode(rle), dtype=np.uint8)


def encode_mask(mask: np.ndarray) -> dict:
    """Compressed RLE ``{'size': [h, w], 'counts': str}`` of an ``HxW`` binary mask."""
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask) != 0, dtype=np.uint8))
    return dict(size=[int(v) for v in rle['size']], counts=rle['counts'].decode('ascii'))


def encode_masks(masks) -> List[dict]:
    """Compressed RLEs of ``(N, H, W)`` binary masks (array or tensor)."""
    if hasattr(masks, 'detach'):
        masks = masks.detach().cpu().numpy()
    return [encode_mask(mask) for mask in masks]
