"""Loading images and masks for refinement training, with checks that name the file.

Every loader raises :class:`~mmseg_refiner.datasets.refine_base.InvalidSampleError`
for bad data (unreadable file, mask/image size mismatch, empty ground truth), so a
:class:`~mmseg_refiner.datasets.refine_base.RefineBaseDataset` can skip the sample
in training and say which file it skipped.
"""
from typing import List, Optional, Sequence, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from pycocotools import mask as mask_utils

from mmseg_refiner.registry import TRANSFORMS
from ..refine_base import InvalidSampleError

#: A COCO/LVIS ``segmentation``: polygons (list of flat ``[x0, y0, x1, y1, ...]``
#: coordinate lists), uncompressed RLE (``counts`` a list) or compressed RLE.
Segmentation = Union[List[Sequence[float]], dict]


def _read_bytes(path: str, backend_args: Optional[dict], what: str) -> bytes:
    try:
        return fileio.get(path, backend_args=backend_args)
    except OSError as error:
        raise InvalidSampleError(f'cannot read {what} {path}: {error}') from error


def _decode(data: bytes, flag: str, backend: str, path: str, what: str) -> np.ndarray:
    try:
        array = mmcv.imfrombytes(data, flag=flag, backend=backend)
    except (OSError, ValueError) as error:  # PIL / turbojpeg / tifffile decoding errors
        raise InvalidSampleError(f'cannot decode {what} {path}: {error}') from error
    if array is None:  # cv2 returns None for bytes it cannot decode
        raise InvalidSampleError(f'cannot decode {what} {path} (not an image file, or corrupt)')
    return array


def _check_same_size(mask: np.ndarray, results: dict, mask_path: str) -> None:
    if 'img' in results and mask.shape[:2] != results['img'].shape[:2]:
        raise InvalidSampleError(
            f'mask {mask_path} is {mask.shape[0]}x{mask.shape[1]} (HxW) but image '
            f'{results.get("img_path")} is {results["img"].shape[0]}x{results["img"].shape[1]}')


@TRANSFORMS.register_module()
class LoadRefineImage(BaseTransform):
    """Load ``results['img_path']`` as an ``HxWx3 uint8`` BGR image.

    Like :class:`mmcv.transforms.LoadImageFromFile`, but a missing, unreadable
    or corrupt file raises :class:`InvalidSampleError` naming the file, so the
    dataset can skip it in training and log what it skipped.

    Added keys: ``img``, ``img_shape``, ``ori_shape`` (``(H, W)``).

    Args:
        color_type (str): flag of :func:`mmcv.imfrombytes`. Defaults to 'color'.
        imdecode_backend (str): decoding backend of :func:`mmcv.imfrombytes`.
        backend_args (dict, optional): file backend arguments of
            :func:`mmengine.fileio.get`.
    """

    def __init__(self,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        img = _decode(
            _read_bytes(path, self.backend_args, 'image'), self.color_type, self.imdecode_backend,
            path, 'image')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r})')


@TRANSFORMS.register_module()
class LoadMaskFromFile(BaseTransform):
    """Load a binary mask stored as an 8-bit image (0 = background, 255 = foreground).

    ``results[path_key]`` is one path, or a list of paths of which one is chosen
    uniformly at random (numpy's global RNG) and written back to
    ``results[path_key]`` for the sample's meta information. The HR recipe uses
    the list form to take either of the two offline coarse masks with p=0.5.

    The mask is read in grayscale and binarised as ``value >= threshold``;
    masks stored as 0/1 must therefore be saved as 0/255 (the DIS5K and
    ThinObject-5K convention, and what ``make_hr_coarse_masks.py`` writes).

    Added key: ``results[key]`` (``HxW uint8`` with values {0, 1}).

    Args:
        key (str): results key to write the mask to. Defaults to 'gt_mask'.
        path_key (str): results key holding the path(s). Defaults to 'mask_path'.
        threshold (int): smallest stored value counted as foreground.
            Defaults to 128.
        allow_empty (bool): accept a mask without foreground. Defaults to
            False (an empty ground truth cannot teach refinement).
        imdecode_backend (str): decoding backend of :func:`mmcv.imfrombytes`.
        backend_args (dict, optional): file backend arguments of
            :func:`mmengine.fileio.get`.

    Raises:
        InvalidSampleError: the file cannot be read, its size differs from
            ``results['img']``'s, or it is empty and ``allow_empty`` is False.
    """

    def __init__(self,
                 key: str = 'gt_mask',
                 path_key: str = 'mask_path',
                 threshold: int = 128,
                 allow_empty: bool = False,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.key = key
        self.path_key = path_key
        self.threshold = threshold
        self.allow_empty = allow_empty
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results[self.path_key]
        if isinstance(path, (list, tuple)):
            path = path[np.random.randint(len(path))]
            results[self.path_key] = path
        stored = _decode(
            _read_bytes(path, self.backend_args, 'mask'), 'grayscale', self.imdecode_backend, path,
            'mask')
        mask = (stored >= self.threshold).astype(np.uint8)
        _check_same_size(mask, results, path)
        if not self.allow_empty and not mask.any():
            raise InvalidSampleError(
                f'mask {path} has no foreground (no value >= {self.threshold}); '
                'masks are expected as 0/255 images')
        results[self.key] = mask
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(key={self.key!r}, path_key={self.path_key!r}, '
                f'threshold={self.threshold}, allow_empty={self.allow_empty})')


def decode_segmentation(segmentation: Segmentation, height: int, width: int) -> np.ndarray:
    """Rasterise a COCO/LVIS ``segmentation`` to an ``HxW uint8`` {0, 1} mask.

    Polygons of one instance (several parts) are merged into one mask.
    """
    if isinstance(segmentation, list):
        rle = mask_utils.merge(
            mask_utils.frPyObjects([np.asarray(part, dtype=np.float64) for part in segmentation],
                                   height, width))
    elif isinstance(segmentation.get('counts'), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return np.ascontiguousarray(mask_utils.decode(rle), dtype=np.uint8)


@TRANSFORMS.register_module()
class LoadRandomInstanceMask(BaseTransform):
    """Choose one instance of the image uniformly at random and rasterise its mask.

    The LR recipe trains on one random instance per image and iteration.
    Requires ``results['img']`` (already loaded) and ``results['instances']``: a
    list of dicts with ``segmentation`` (COCO/LVIS polygons or RLE) and
    ``ann_id``, as :class:`LVISRefineDataset` yields. If ``results`` holds the
    annotated ``height``/``width``, they must match the image's size.

    Added keys: ``gt_mask`` (``HxW uint8`` {0, 1}) and ``ann_id``.

    Raises:
        InvalidSampleError: no instances, the annotated size differs from the
            image's, or the chosen instance rasterises to an empty mask.
    """

    def transform(self, results: dict) -> dict:
        img_path = results.get('img_path')
        instances = results['instances']
        if not instances:
            raise InvalidSampleError(f'image {img_path} has no instance to train on')
        height, width = results['img'].shape[:2]
        annotated = (results.get('height', height), results.get('width', width))
        if annotated != (height, width):
            raise InvalidSampleError(
                f'image {img_path} is {height}x{width} (HxW) but its annotation says '
                f'{annotated[0]}x{annotated[1]}')
        instance = instances[np.random.randint(len(instances))]
        mask = decode_segmentation(instance['segmentation'], height, width)
        if not mask.any():
            raise InvalidSampleError(
                f'annotation {instance["ann_id"]} of image {img_path} rasterises to an empty mask')
        results['gt_mask'] = mask
        results['ann_id'] = instance['ann_id']
        return results
