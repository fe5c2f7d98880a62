"""The two training crops of SegRefiner: around the object, and a full-resolution patch.

Both crop every key in ``keys`` that ``results`` holds (image and masks alike,
so they stay aligned) and record the crop as ``crop_bbox = (x0, y0, x1, y1)``
(pixels, end exclusive) and the new ``img_shape``. Randomness comes from numpy's
global RNG, which MMEngine seeds.
"""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from typing import Optional, Sequence, Tuple

from mmseg_refiner.fileio import mask_box
from mmseg_refiner.registry import TRANSFORMS
from ..refine_base import InvalidSampleError

Box = Tuple[int, int, int, int]


def apply_crop(results: dict, bbox: Box, keys: Sequence[str]) -> dict:
    """Crop ``results[key]`` for every present key to ``bbox`` and record it."""
    x0, y0, x1, y1 = bbox
    for key in keys:
        if key in results:
            results[key] = results[key][y0:y1, x0:x1]
    results['img_shape'] = (y1 - y0, x1 - x0)
    results['crop_bbox'] = bbox
    return results


def _random_span_with_length(start: int, end: int, length: int, size: int) -> Tuple[int, int]:
    """A ``length`` span in ``[0, size)`` containing ``[start, end)``, uniform over origins."""
    low, high = max(0, end - length), min(start, size - length)
    origin = np.random.randint(low, high + 1)
    return origin, origin + length


def _random_enclosing_span(start: int, end: int, size: int) -> Tuple[int, int]:
    """A span in ``[0, size)`` containing ``[start, end)``; each end uniform up to the border."""
    return np.random.randint(0, start + 1), np.random.randint(end, size + 1)


def _required_mask(results: dict, key: str, transform: str) -> np.ndarray:
    if key not in results:
        raise KeyError(f'{transform} needs results[{key!r}] (load the ground truth first)')
    return results[key]


@TRANSFORMS.register_module()
class RandomObjectCrop(BaseTransform):
    """Random crop that contains the object's box (the tight box of ``gt_mask``).

    Two modes, one per recipe:

    - ``padding`` an int (LR, paper: 40): along each axis the crop is the box's
      length plus ``padding`` pixels in total (clipped to the image), shifted
      uniformly at random among the positions that still contain the box.
    - ``padding=None`` (HR object crop): each side of the crop lies uniformly at
      random between the box's side and the image border, so the crop holds the
      box plus a random amount of context.

    Args:
        padding (int, optional): total pixels added to the box's width and to
            its height. Defaults to 40.
        mask_key (str): the mask whose foreground defines the box.
        keys (Sequence[str]): results keys cropped (when present).

    Raises:
        InvalidSampleError: the mask has no foreground.
    """

    def __init__(
        self,
        padding: Optional[int] = 40,
        mask_key: str = 'gt_mask',
        keys: Sequence[str] = ('img', 'gt_mask', 'coarse_mask')) -> None:
        if padding is not None and padding < 0:
            raise ValueError(f'padding must be >= 0 or None, got {padding}')
        self.padding = padding
        self.mask_key = mask_key
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        mask = _required_mask(results, self.mask_key, type(self).__name__)
        box = mask_box(mask)
        if box is None:
            raise InvalidSampleError(
                f'{self.mask_key} of {results.get("mask_path", results.get("img_path"))} '
                'is empty: no object to crop around')
        height, width = mask.shape[:2]
        if self.padding is None:
            x0, x1 = _random_enclosing_span(box[0], box[2], width)
            y0, y1 = _random_enclosing_span(box[1], box[3], height)
        else:
            x0, x1 = _random_span_with_length(box[0], box[2],
                                              min(box[2] - box[0] + self.padding, width), width)
            y0, y1 = _random_span_with_length(box[1], box[3],
                                              min(box[3] - box[1] + self.padding, height), height)
        return apply_crop(results, (x0, y0, x1, y1), self.keys)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(padding={self.padding}, keys={self.keys})'


@TRANSFORMS.register_module()
class RandomPatchCrop(BaseTransform):
    """Random square patch at full resolution containing foreground and background.

    The HR recipe's *patch* pair: a ``patch_size`` square crop of the original
    image; for an image smaller than ``patch_size`` along either side the patch
    is half its shorter side (a later resize brings it to the model size).
    The position is uniform over all positions whose ground-truth patch holds
    both foreground and background. It is drawn by rejection; after
    ``max_rejection_tries`` misses (a small object) the valid positions are
    enumerated with an integral image and one is drawn uniformly, which is the
    same distribution.

    Args:
        patch_size (int): side of the patch in pixels. Defaults to 256.
        mask_key (str): the ground-truth mask the patch must split.
        keys (Sequence[str]): results keys cropped (when present).
        max_rejection_tries (int): random positions tried before enumerating.
            Affects speed only.

    Raises:
        InvalidSampleError: no patch position holds both foreground and background.
    """

    def __init__(self,
                 patch_size: int = 256,
                 mask_key: str = 'gt_mask',
                 keys: Sequence[str] = ('img', 'gt_mask', 'coarse_mask'),
                 max_rejection_tries: int = 10) -> None:
        if patch_size < 2:
            raise ValueError(f'patch_size must be >= 2, got {patch_size}')
        self.patch_size = patch_size
        self.mask_key = mask_key
        self.keys = tuple(keys)
        self.max_rejection_tries = max_rejection_tries

    def patch_side(self, height: int, width: int) -> int:
        """Side of the patch for an image of ``height`` x ``width``."""
        if height >= self.patch_size and width >= self.patch_size:
            return self.patch_size
        return min(height, width) // 2

    def transform(self, results: dict) -> dict:
        mask = _required_mask(results, self.mask_key, type(self).__name__)
        height, width = mask.shape[:2]
        side = self.patch_side(height, width)
        origin = self._draw_origin(mask, side) if side > 0 else None
        if origin is None:
            raise InvalidSampleError(
                f'no {side}x{side} patch of {results.get("mask_path", results.get("img_path"))} '
                'contains both foreground and background')
        x0, y0 = origin
        return apply_crop(results, (x0, y0, x0 + side, y0 + side), self.keys)

    def _draw_origin(self, mask: np.ndarray, side: int) -> Optional[Tuple[int, int]]:
        height, width = mask.shape[:2]
        for _ in range(self.max_rejection_tries):
            y0 = np.random.randint(0, height - side + 1)
            x0 = np.random.randint(0, width - side + 1)
            patch = mask[y0:y0 + side, x0:x0 + side]
            if patch.any() and not patch.all():
                return x0, y0
        integral = cv2.integral((mask > 0).astype(np.uint8))
        sums = (
            integral[side:, side:] - integral[:-side, side:] - integral[side:, :-side] +
            integral[:-side, :-side])
        valid = np.flatnonzero((sums > 0) & (sums < side * side))
        if valid.size == 0:
            return None
        y0, x0 = np.unravel_index(valid[np.random.randint(valid.size)], sums.shape)
        return int(x0), int(y0)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(patch_size={self.patch_size}, keys={self.keys}, '
                f'max_rejection_tries={self.max_rejection_tries})')
