"""Turning user input (paths, arrays, lists) into the image and masks the refiners take.

Conventions (those of mmcv / OpenCV):

- An image is ``HxWx3 uint8`` in **BGR** order, as ``mmcv.imread`` and
  ``cv2.imread`` return it. Documented conversions: a grey image (``HxW`` or
  ``HxWx1``) is repeated to 3 channels; a 4-channel image (BGRA, as OpenCV reads
  a PNG with transparency) loses its alpha channel. Other dtypes are refused.
- A mask is any ``HxW`` (or ``HxWx1``) array or image file; every non-zero
  value is foreground, NaN is refused. A mask file with colour channels is
  foreground wherever any channel is non-zero.
"""
import os
import os.path as osp
from typing import List, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch

from mmseg_refiner.utils.atomic_io import write_bytes_atomic

ImageInput = Union[str, os.PathLike, np.ndarray]
MaskInput = Union[str, os.PathLike, np.ndarray, torch.Tensor]
MasksInput = Union[MaskInput, Sequence[MaskInput]]


def _is_path(obj) -> bool:
    return isinstance(obj, (str, os.PathLike))


def read_image_file(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read an image file as ``HxWx3 uint8`` BGR (grey -> 3 channels, alpha dropped).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file exists but is not a readable image.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file {path} does not exist')
    try:
        img = mmcv.imread(path, flag='color')
    except Exception as err:  # a decoder may raise instead of returning None
        raise ValueError(f'could not read image file {path}: {err}') from err
    if img is None:
        raise ValueError(f'could not read image file {path}: not an image, or corrupt')
    return img


def to_bgr_image(image: ImageInput) -> np.ndarray:
    """Return ``image`` (a path or an array) as a contiguous ``HxWx3 uint8`` BGR array.

    Args:
        image: a file path (read with ``mmcv.imread``) or an array: ``HxWx3``
            BGR, ``HxWx4`` BGRA (alpha dropped), ``HxW`` / ``HxWx1`` grey
            (repeated to 3 channels). Arrays must be ``uint8``.

    Raises:
        ValueError: an unreadable file, a non-uint8 array or a shape that is
            not an image.
    """
    if _is_path(image):
        return read_image_file(image)
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


def read_mask_file(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read a mask file as ``HxW bool`` (non-zero in any channel = foreground).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'mask file {path} does not exist')
    try:
        mask = mmcv.imread(path, flag='unchanged')
    except Exception as err:
        raise ValueError(f'could not read mask file {path}: {err}') from err
    if mask is None:
        raise ValueError(f'could not read mask file {path}: not an image, or corrupt')
    if mask.ndim == 3:
        mask = mask.any(axis=2)
    return mask != 0


def _array_mask(mask: Union[np.ndarray, torch.Tensor], name: str) -> np.ndarray:
    """An array or tensor mask as bool (non-zero = foreground); NaN is refused."""
    array = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        raise ValueError(f'{name} holds {int(np.isnan(array).sum())} NaN value(s); a mask is '
                         f'0 (background) or non-zero (foreground): replace them, e.g. '
                         f'np.nan_to_num(mask)')
    return array != 0


def _one_mask(mask: MaskInput, name: str, image_shape: Tuple[int, int]) -> np.ndarray:
    """One mask (path, array or tensor) as ``HxW bool``, checked against the image size."""
    if _is_path(mask):
        array = read_mask_file(mask)
    elif isinstance(mask, (np.ndarray, torch.Tensor)):
        array = _array_mask(mask, name)
    else:
        raise ValueError(f'{name} must be a file path or an array, got {type(mask).__name__}')
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]  # HxWx1: one mask, as an image with one channel
    if array.ndim != 2:
        raise ValueError(f'{name} must be a 2-D HxW mask, got shape {array.shape}')
    if array.shape != tuple(image_shape):
        raise ValueError(f'{name} has size {array.shape[0]}x{array.shape[1]} (HxW), '
                         f'the image {image_shape[0]}x{image_shape[1]}')
    return array


def to_bool_masks(masks: MasksInput, image_shape: Tuple[int, int]) -> Tuple[np.ndarray, bool]:
    """Turn one mask or several into an ``NxHxW bool`` array.

    Args:
        masks: one mask (a path, an ``HxW`` or ``HxWx1`` array or tensor) or
            several (a list / tuple of those, or an ``NxHxW`` array or tensor).
            Any dtype; non-zero is foreground; NaN is refused.
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


def to_uint8_mask(mask: np.ndarray) -> np.ndarray:
    """A binary mask as the ``HxW uint8`` 0/255 image written to mask files."""
    return np.where(np.asarray(mask) != 0, 255, 0).astype(np.uint8)


def write_image_atomic(path: Union[str, os.PathLike], image: np.ndarray) -> None:
    """Write ``image`` to ``path`` so that no half-written file is ever seen there.

    The image is encoded in memory (format from the file extension), written
    to a temporary file in the target folder and moved into place with
    ``os.replace`` (atomic on one file system; see
    :func:`mmseg_refiner.utils.write_bytes_atomic`). Missing folders are created.

    Raises:
        ValueError: OpenCV cannot encode to the extension of ``path``.
    """
    path = os.fspath(path)
    ext = osp.splitext(path)[1] or '.png'
    try:
        ok, encoded = cv2.imencode(ext, image)
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f'cannot encode an image as {ext} for {path}')
    write_bytes_atomic(path, encoded.tobytes())
