"""Loading images and masks for refinement training, with checks that name the file.

Every loader raises :class:`~mmseg_refiner.datasets.refine_base.InvalidSampleError`
for bad data (unreadable file, mask/image size mismatch, empty ground truth), so a
:class:`~mmseg_refiner.datasets.refine_base.RefineBaseDataset` can skip the sample
in training and say which file it skipped.
"""
import numpy as np
from contextlib import contextmanager
from mmcv.transforms import BaseTransform
from typing import Iterator, Optional

from mmseg_refiner import fileio
from mmseg_refiner.registry import TRANSFORMS
from ..refine_base import InvalidSampleError


@contextmanager
def _invalid_sample() -> Iterator[None]:
    """Turn fileio's read and decode errors (which name the file) into InvalidSampleError."""
    try:
        yield
    except (OSError, ValueError) as error:
        raise InvalidSampleError(str(error)) from error


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
        with _invalid_sample():
            img = fileio.decode_image(
                fileio.read_bytes(path, 'image', self.backend_args), path, self.color_type,
                self.imdecode_backend)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r})')


@TRANSFORMS.register_module()
class LoadMaskFromFile(BaseTransform):
    """Load a binary mask file under the package's one mask rule.

    ``results[path_key]`` is one path, or a list of paths of which one is chosen
    uniformly at random (numpy's global RNG) and written back to
    ``results[path_key]`` for the sample's meta information. The HR recipe uses
    the list form to take either of the two offline coarse masks with p=0.5.

    Foreground follows :mod:`mmseg_refiner.fileio.masks` (0/1 and 0/255 alike,
    JPEG noise ignored, palette PNGs by index, 16-bit non-zero); an empty mask
    that is allowed gets a warning naming the file.

    Added key: ``results[key]`` (``HxW uint8`` with values {0, 1}).

    Args:
        key (str): results key to write the mask to. Defaults to 'gt_mask'.
        path_key (str): results key holding the path(s). Defaults to 'mask_path'.
        allow_empty (bool): accept a mask without foreground. Defaults to
            False (an empty ground truth cannot teach refinement).
        backend_args (dict, optional): file backend arguments of
            :func:`mmengine.fileio.get`.

    Raises:
        InvalidSampleError: the file cannot be read, its size differs from
            ``results['img']``'s, or it is empty and ``allow_empty`` is False.
    """

    def __init__(self,
                 key: str = 'gt_mask',
                 path_key: str = 'mask_path',
                 allow_empty: bool = False,
                 backend_args: Optional[dict] = None,
                 **removed) -> None:
        if removed:
            raise ValueError(
                f'LoadMaskFromFile: {", ".join(sorted(removed))} no longer exist: every mask is '
                'read under the one mask rule of mmseg_refiner.fileio.masks (0/1 and 0/255 alike, '
                '>= 128 for other 8-bit files, palette PNGs by index); remove them from the config')
        self.key = key
        self.path_key = path_key
        self.allow_empty = allow_empty
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results[self.path_key]
        if isinstance(path, (list, tuple)):
            path = path[np.random.randint(len(path))]
            results[self.path_key] = path
        with _invalid_sample():
            mask = fileio.read_mask(path, self.backend_args, warn_empty=self.allow_empty)
        _check_same_size(mask, results, path)
        if not self.allow_empty and not mask.any():
            raise InvalidSampleError(f'mask {path} has no foreground under the mask rule (see '
                                     'mmseg_refiner.fileio.masks)')
        results[self.key] = mask.astype(np.uint8)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(key={self.key!r}, path_key={self.path_key!r}, '
                f'allow_empty={self.allow_empty})')


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
            raise InvalidSampleError(fileio.size_mismatch(img_path, (height, width), annotated))
        instance = instances[np.random.randint(len(instances))]
        with _invalid_sample():
            mask = fileio.decode_segmentation(
                instance['segmentation'], height, width,
                f'annotation {instance["ann_id"]} of image {img_path}')
        if not mask.any():
            raise InvalidSampleError(
                f'annotation {instance["ann_id"]} of image {img_path} rasterises to an empty mask')
        results['gt_mask'] = mask
        results['ann_id'] = instance['ann_id']
        return results
