"""THE mask rule: what counts as foreground, whatever way a mask was saved.

Every dataset, transform, metric, tool and API call reads masks through
:func:`read_mask` (files) or :func:`mask_from_array` (arrays), so a mask is the
same object in every command. The rule, by what the pixels are stored as:

==========================  ==================================================
stored as                   foreground
==========================  ==================================================
``bool`` / 1-bit file       ``True``
8-bit grey (``uint8``),     if the values are a subset of ``{0, 1}``: ``1``;
non-palette                 otherwise ``value >= 128``
8-bit colour (RGB/BGR)      the largest channel, then the 8-bit grey rule
palette PNG (mode ``P``)    palette **index** ``!= 0`` (colours are ignored:
                            the file is read with Pillow, as mmseg reads label
                            maps, not rendered the way OpenCV reads it)
16-bit or other integer     ``value != 0`` (labels; no lossy format stores them)
float (array, or a 32-bit   ``value >= 0.5`` (a probability); NaN is refused
float TIFF)
==========================  ==================================================

Why the 8-bit rule has two branches: 0/1 and 0/255 are the two conventions
tools save masks in, and both mean "1 or 255 is foreground". A 0/255 mask
saved as JPEG comes back with noise (values near 0 and near 255, e.g. 0..30 and
225..255 along the edges); thresholding at 128 makes it the same object as the
lossless original, while "non-zero is foreground" would add the noise. The
``{0, 1}`` test looks at the whole file, so a 0/255 mask (JPEG or not) is never
read as 0/1. A 0/1 mask saved as JPEG is not recoverable this way (its noise
takes it out of ``{0, 1}`` and under 128): it reads as empty, with a warning.

An alpha channel is dropped. An ``HxWx1`` array or file is one mask. A mask
that holds no foreground under the rule gets an :class:`EmptyMaskWarning`
naming it (it may have been saved in a convention the rule does not know).
Masks are written as 0/255 8-bit PNGs (:func:`mask_to_uint8`), which every
reader of the rule (and every image viewer) reads back unchanged.
"""
import io
import os
import warnings
from typing import Optional, Union

import numpy as np
from PIL import Image, ImageOps

from .images import read_bytes

#: 8-bit grey (and colour) values ``>=`` this are foreground, unless the file
#: holds only 0 and 1.
UINT8_THRESHOLD = 128
#: Float values (probabilities) ``>=`` this are foreground.
PROB_THRESHOLD = 0.5


class EmptyMaskWarning(UserWarning):
    """A mask holds no foreground under the mask rule."""


def warn_if_empty(mask: np.ndarray, name: str) -> None:
    """Warn (:class:`EmptyMaskWarning`, naming ``name``) when ``mask`` has no foreground."""
    if not mask.any():
        warnings.warn(
            f'{name} has no foreground under the mask rule (8-bit: 1 of 0/1, else >= '
            f'{UINT8_THRESHOLD}; palette: index != 0; 16-bit/integer: != 0; float: >= '
            f'{PROB_THRESHOLD}); see mmseg_refiner.fileio.masks',
            EmptyMaskWarning,
            stacklevel=3)


def _uint8_foreground(values: np.ndarray) -> np.ndarray:
    if values.max(initial=0) <= 1:
        return values == 1
    return values >= UINT8_THRESHOLD


def mask_from_array(array, name: str = 'mask', warn_empty: bool = True) -> np.ndarray:
    """Apply the mask rule to an array (or tensor): ``HxW bool``.

    Args:
        array: ``HxW`` or ``HxWx1`` of any dtype; ``HxWx3`` / ``HxWx4`` uint8 is
            a colour image (largest of the first 3 channels). A torch tensor is
            moved to the CPU first.
        name: how errors and the empty-mask warning name the mask.
        warn_empty: warn when the result has no foreground.

    Raises:
        ValueError: NaN in a float mask, a dtype that is not bool, integer or
            float, or a shape that is not one mask.
    """
    if hasattr(array, 'detach'):  # torch.Tensor, without importing torch here
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    elif array.ndim == 3 and array.shape[2] in (3, 4) and array.dtype == np.uint8:
        array = array[..., :3].max(axis=2)
    if array.ndim != 2:
        raise ValueError(f'{name} must be one HxW mask, got an array of shape {array.shape}')
    if array.dtype == bool:
        mask = array
    elif array.dtype == np.uint8:
        mask = _uint8_foreground(array)
    elif np.issubdtype(array.dtype, np.integer):
        mask = array != 0
    elif np.issubdtype(array.dtype, np.floating):
        if np.isnan(array).any():
            raise ValueError(f'{name} is a float mask (probabilities) with NaN values')
        mask = array >= PROB_THRESHOLD
    else:
        raise ValueError(f'{name} has dtype {array.dtype}; a mask is bool, integer or float')
    if warn_empty:
        warn_if_empty(mask, name)
    return np.ascontiguousarray(mask)


def decode_mask(data: bytes, path: str, warn_empty: bool = True) -> np.ndarray:
    """Apply the mask rule to the bytes of a mask file (see :func:`read_mask`)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)  # line up with images read by OpenCV
            mode = image.mode
            if mode in ('P', 'PA'):
                array = np.asarray(image)
                array = (array[..., 0] if array.ndim == 3 else array) != 0
            elif mode in ('RGB', 'RGBA', 'RGBX', 'L', 'LA', '1', 'F') or mode.startswith('I'):
                array = np.asarray(image)
                if mode == 'LA':
                    array = array[..., 0]
            else:  # CMYK, YCbCr, LAB, HSV: 8-bit colour
                array = np.asarray(image.convert('RGB'))
    except Exception as error:  # Pillow raises many types for bad bytes
        raise ValueError(f'cannot read mask file {path}: {error}') from error
    return mask_from_array(array, f'mask file {path}', warn_empty=warn_empty)


def read_mask(path: Union[str, os.PathLike],
              backend_args: Optional[dict] = None,
              warn_empty: bool = True) -> np.ndarray:
    """Read a mask file under the mask rule (module docstring) as ``HxW bool``.

    Args:
        path: the file (any format Pillow reads: PNG incl. palette and 16-bit,
            JPEG, BMP, TIFF incl. float, WebP).
        backend_args: file backend arguments of :func:`mmengine.fileio.get`.
        warn_empty: warn (:class:`EmptyMaskWarning`, naming the file) when it
            has no foreground.

    Raises:
        FileNotFoundError: the file does not exist (naming it).
        ValueError: the file is not a readable image, or holds NaN (naming it).
    """
    path = os.fspath(path)
    return decode_mask(read_bytes(path, 'mask', backend_args), path, warn_empty)


def mask_to_uint8(mask: np.ndarray) -> np.ndarray:
    """A binary mask (``!= 0`` is foreground) as the ``HxW uint8`` 0/255 image written to files."""
    return np.where(np.asarray(mask) != 0, 255, 0).astype(np.uint8)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """``(N, 4)`` float32 ``x0, y0, x1, y1`` boxes of ``(N, H, W)`` masks.

    End exclusive, as mmdet's ``BitmapMasks.get_bboxes``; all zeros for an
    empty mask.
    """
    boxes = np.zeros((len(masks), 4), dtype=np.float32)
    for i, mask in enumerate(masks):
        box = mask_box(mask)
        if box is not None:
            boxes[i] = box
    return boxes


def mask_box(mask: np.ndarray) -> Optional[tuple]:
    """Tight box ``(x0, y0, x1, y1)`` (end exclusive) of a mask's foreground, or None."""
    cols = np.flatnonzero(np.asarray(mask).any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(np.asarray(mask).any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
