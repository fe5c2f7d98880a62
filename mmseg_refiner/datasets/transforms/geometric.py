"""Resizing and flipping an image together with its binary masks."""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from typing import Sequence, Tuple

from mmseg_refiner.registry import TRANSFORMS

_CV2_INTERPOLATIONS = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
}


def _interpolation(name: str) -> int:
    if name not in _CV2_INTERPOLATIONS:
        raise ValueError(
            f'interpolation must be one of {sorted(_CV2_INTERPOLATIONS)}, got {name!r}')
    return _CV2_INTERPOLATIONS[name]


@TRANSFORMS.register_module()
class RefineResize(BaseTransform):
    """Resize ``img`` and the binary masks to a fixed size, aspect ratio not kept.

    Masks are resized with ``mask_interpolation``. The default, ``'nearest'``,
    keeps every output pixel a copy of an input label, as the published
    training did (mmdet's mask resize); ``'bilinear'`` or ``'area'`` resize the
    0/1 mask as floats and threshold at 0.5, which follows thin structures
    better when shrinking a large crop a lot. Either way the masks stay {0, 1}.

    Updated keys: ``img``, the present ``mask_keys``, ``img_shape``,
    ``scale_factor`` (``(w_scale, h_scale)``).

    Args:
        scale (Tuple[int, int]): output ``(width, height)``. Defaults to (256, 256).
        interpolation (str): image interpolation. Defaults to 'bilinear'.
        mask_interpolation (str): mask interpolation. Defaults to 'nearest'.
        mask_keys (Sequence[str]): masks resized when present.
    """

    def __init__(
        self,
        scale: Tuple[int, int] = (256, 256),
        interpolation: str = 'bilinear',
        mask_interpolation: str = 'nearest',
        mask_keys: Sequence[str] = ('gt_mask', 'coarse_mask')
    ) -> None:
        self.scale = (int(scale[0]), int(scale[1]))
        self.interpolation = interpolation
        self.mask_interpolation = mask_interpolation
        self._img_flag = _interpolation(interpolation)
        self._mask_flag = _interpolation(mask_interpolation)
        self.mask_keys = tuple(mask_keys)

    def _resize_mask(self, mask: np.ndarray) -> np.ndarray:
        if self.mask_interpolation == 'nearest':
            return cv2.resize(mask, self.scale, interpolation=self._mask_flag)
        resized = cv2.resize(mask.astype(np.float32), self.scale, interpolation=self._mask_flag)
        return (resized >= 0.5).astype(np.uint8)

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        results['img'] = cv2.resize(results['img'], self.scale, interpolation=self._img_flag)
        for key in self.mask_keys:
            if key in results:
                results[key] = self._resize_mask(results[key])
        results['img_shape'] = (self.scale[1], self.scale[0])
        results['scale_factor'] = (self.scale[0] / width, self.scale[1] / height)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'interpolation={self.interpolation!r}, '
                f'mask_interpolation={self.mask_interpolation!r}, mask_keys={self.mask_keys})')


@TRANSFORMS.register_module()
class RefineRandomFlip(BaseTransform):
    """Flip ``img`` and the masks horizontally with probability ``prob``.

    Sets ``results['flip']`` (bool) and ``results['flip_direction']``.

    Args:
        prob (float): flip probability. Defaults to 0.5.
        keys (Sequence[str]): arrays flipped together (when present).
    """

    def __init__(self,
                 prob: float = 0.5,
                 keys: Sequence[str] = ('img', 'gt_mask', 'coarse_mask')) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        if flip:
            for key in self.keys:
                if key in results:
                    results[key] = np.ascontiguousarray(results[key][:, ::-1])
        results['flip'] = flip
        results['flip_direction'] = 'horizontal' if flip else None
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, keys={self.keys})'
