"""Turning user input (paths, arrays, lists) into the image and masks the refiners take.

Conventions (those of mmcv / OpenCV):

- An image is ``HxWx3 uint8`` in **BGR** order, as ``mmcv.imread`` and
  ``cv2.imread`` return it. Documented conversions: a grey image (``HxW`` or
  ``HxWx1``) is repeated to 3 channels; a 4-channel image (BGRA, as OpenCV reads
  a PNG with transparency) loses its alpha channel. Other dtypes are refused.
- A mask is an ``HxW`` (or ``HxWx1``) array or a mask file, read under the
  package's one mask rule (:mod:`mmseg_refiner.fileio.masks`): 0/1 and 0/255
  8-bit alike, JPEG noise ignored, palette PNGs by index, other integers and
  16-bit non-zero, bool as is, float probabilities ``>= 0.5`` (NaN refused).
"""
import numpy as np
import os
import torch
from typing import List, Sequence, Tuple, Union

from mmseg_refiner import fileio

ImageInput = Union[str, os.PathLike, np.ndarray]
MaskInput = Union[str, os.PathLike, np.ndarray, torch.Tensor]
MasksInput = Union[MaskInput, Sequence[MaskInput]]


def _is_path(obj) -> bool:
    return isinstance(obj, (str, os.PathLike))


def to_bgr_image(image: ImageInput) -> np.ndarray:
    """Return ``image`` (a path or an array) as a contiguous ``HxWx3 uint8`` BGR array.

    Args:
        image: a file path (read with :func:`mmseg_refiner.fileio.read_image`)
            or an array: ``HxWx3`` BGR, ``HxWx4`` BGRA (alpha dropped), ``HxW`` / ``HxWx1`` grey
            (repeated to 3 channels). Arrays must be ``uint8``.

    Raises:
        FileNotFoundError: a missing file.
        ValueError: an unreadable file, a non-uint8 array or a shape that is
            not an image.
    """
    if _is_path(image):
        return fileio.read_image(image)
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise ValueError(f'image must be a file path or a numpy array, got {type(image).__name__}')
    if image.dtype != np.uint8:
        raise ValueError(
            f'image array must be uint8 (0..255, BGR), got {image.dtype}; for a float image in '
            f'[0, 1] pass (image * 255).round().astype(np.uint8)')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    elif image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image array must be HxWx3 (BGR), HxWx4 (BGRA) or HxW / HxWx1 (grey), '
                         f'got shape {image.shape}')
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f'image array is empty (shape {image.shape})')
    return np.ascontiguousarray(image)


def _one_mask(mask: MaskInput, name: str, image_shape: Tuple[int, int]) -> np.ndarray:
    """One mask (path, array or tensor) as ``HxW bool``, checked against the image size."""
    if _is_path(mask):
        array = fileio.read_mask(mask)
    elif isinstance(mask, (torch.Tensor, np.ndarray)):
        array = fileio.mask_from_array(mask, name)
    else:
        raise ValueError(f'{name} must be a file path or an array, got {type(mask).__name__}')
    if array.shape != tuple(image_shape):
        raise ValueError(f'{name} has size {array.shape[0]}x{array.shape[1]} (HxW), '
                         f'the image {image_shape[0]}x{image_shape[1]}')
    return array


def to_bool_masks(masks: MasksInput, image_shape: Tuple[int, int]) -> Tuple[np.ndarray, bool]:
    """Turn one mask or several into an ``NxHxW bool`` array.

    Args:
        masks: one mask (a path, an ``HxW`` or ``HxWx1`` array or tensor) or
            several (a list / tuple of those, or an ``NxHxW`` array or tensor),
            under the mask rule of :mod:`mmseg_refiner.fileio.masks`.
        image_shape: ``(H, W)`` of the image; every mask must match it.

    Returns:
        ``(masks, single)``: the ``NxHxW bool`` array and whether the input was
        one mask (so the caller can hand back the same container shape).

    Raises:
        ValueError: an empty list, a mask of the wrong size or number of
            dimensions, or an unreadable mask file; the message names the mask
            (its path, or its index when several were given).
    """
    if _is_path(masks):
        return _one_mask(masks, f'mask {os.fspath(masks)}', image_shape)[None], True
    if isinstance(masks, (np.ndarray, torch.Tensor)):
        if masks.ndim == 2 or (masks.ndim == 3 and masks.shape[2] == 1
                               and tuple(masks.shape[:2]) == tuple(image_shape)):
            return _one_mask(masks, 'mask', image_shape)[None], True
        if masks.ndim != 3:
            raise ValueError('masks must be one HxW mask or an NxHxW stack, '
                             f'got an array of shape {tuple(masks.shape)}')
        if masks.shape[0] == 0:
            raise ValueError('masks is an empty stack (0xHxW): give at least one mask')
        masks = list(masks)
    elif isinstance(masks, (list, tuple)):
        if len(masks) == 0:
            raise ValueError('masks is an empty list: give at least one mask')
    else:
        raise ValueError('masks must be a path, an HxW / NxHxW array, or a list of them, '
                         f'got {type(masks).__name__}')
    out: List[np.ndarray] = []
    for index, mask in enumerate(masks):
        name = f'mask {index}' + (f' ({os.fspath(mask)})' if _is_path(mask) else '')
        out.append(_one_mask(mask, name, image_shape))
    return np.stack(out), False
