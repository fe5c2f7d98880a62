"""THE mask rule: what counts as foreground, whatever way a mask was saved.

Every dataset, transform, metric, tool and API call reads masks through
:func:`read_mask` (files) or :func:`mask_from_array` (arrays), so a mask is the
same object in every command. The rule, by what the pixels are stored as:

==========================  ==================================================
stored as                   foreground
==========================  ==================================================
``bool`` / 1-bit file       ``True``
8-bit grey (``uint8``),     *label-like* (no value in 128..254): the label
non-palette                 rule below; otherwise (grey levels: a 0/255 mask
                            saved as JPEG, an anti-aliased matte)
                            ``value >= 128``
8-bit colour (RGB/BGR)      the largest channel, then the 8-bit grey rule
palette PNG (mode ``P``)    the label rule on the palette **indices** (colours
                            are ignored: the file is read with Pillow, as
                            mmseg reads label maps, not rendered the way
                            OpenCV reads it)
16-bit or other integer     the label rule
float (array, or a 32-bit   ``value >= 0.5`` (a probability); NaN is refused
float TIFF)
==========================  ==================================================

The label rule (one binary mask per file; mmseg's ``ignore_index`` 255):

* values ``{0, k}`` (0/1, 0/255, 0/7, 0/65535...): ``k`` is the foreground;
* values ``{0, k, 255}`` with ``k`` not 255: ``k`` is the foreground and 255 is
  mmseg's *ignore* band, read as background, with an :class:`IgnoredPixelsWarning`
  naming the file and both counts (so a 0/1 mask with one stray 255 is the 0/1
  object, and a palette PNG with a 255 border band is not foreground there);
* two or more labels besides 0 and 255 (a 0/1/2 label map, or a 0/1 mask
  saved as JPEG): an error naming the file and its values. SegRefiner refines
  one object per mask: save each object as 0/255 (or 0/1), or pick its label.

Why the 8-bit rule has two branches: 0/1 and 0/255 are the two conventions
tools save masks in, and both mean "1 or 255 is foreground". A 0/255 mask
saved as JPEG comes back with noise (values near 0 and near 255, e.g. 0..30 and
225..255 along the edges); thresholding at 128 makes it the same object as the
lossless original, while "non-zero is foreground" would add the noise. The
label test looks at the whole file, so a JPEG'd 0/255 mask (values in 128..254)
is never read as labels.

An alpha channel is dropped. An ``HxWx1`` array or file is one mask. A mask
that holds no foreground under the rule gets an :class:`EmptyMaskWarning`
naming it (it may have been saved in a convention the rule does not know).
Masks are written as 0/255 8-bit PNGs (:func:`mask_to_uint8`), which every
reader of the rule (and every image viewer) reads back unchanged.
"""
import io
import numpy as np
import os
import warnings
from PIL import Image, ImageOps
from typing import Optional, Union

from .images import read_bytes

#: 8-bit grey (and colour) values ``>=`` this are foreground, unless the file
#: holds only 0 and 1.
UINT8_THRESHOLD = 128
#: Float values (probabilities) ``>=`` this are foreground.
PROB_THRESHOLD = 0.5

#: The label mmseg reads as "ignore" (its ``ignore_index``).
IGNORE_LABEL = 255


class EmptyMaskWarning(UserWarning):
    """A mask holds no foreground under the mask rule."""


class IgnoredPixelsWarning(UserWarning):
    """A mask has pixels of the ignore label 255 besides its one label: read as background."""


def warn_if_empty(mask: np.ndarray, name: str) -> None:
    """Warn (:class:`EmptyMaskWarning`, naming ``name``) when ``mask`` has no foreground."""
    if not mask.any():
        warnings.warn(
            f'{name} has no foreground under the mask rule (labels: the one non-zero value; '
            f'8-bit grey levels: >= {UINT8_THRESHOLD}; float: >= {PROB_THRESHOLD}); see '
            f'mmseg_refiner.fileio.masks',
            EmptyMaskWarning,
            stacklevel=3)


def _present(values: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array (a histogram for 8/16-bit, fast)."""
    if values.dtype in (np.uint8, np.uint16):
        return np.flatnonzero(np.bincount(values.ravel()))
    return np.unique(values)


def _label_foreground(values: np.ndarray, name: str, present: np.ndarray = None) -> np.ndarray:
    """The label rule (module docstring) on integer ``values``."""
    if present is None:
        present = _present(values)
    if present.size and present[0] < 0:
        raise ValueError(f'{name} holds negative values; a mask is 0 (background) and one '
                         f'label (foreground)')
    labels = [int(v) for v in present if v != 0]
    if not labels:
        return np.zeros(values.shape, bool)
    if len(labels) == 1:
        return values == labels[0]
    if len(labels) == 2 and IGNORE_LABEL in labels:
        [label] = [v for v in labels if v != IGNORE_LABEL]
        mask = values == label
        warnings.warn(
            f'{name}: {int(np.count_nonzero(values == IGNORE_LABEL))} pixels of {IGNORE_LABEL} '
            f'(mmseg\'s ignore label) read as background; the {int(np.count_nonzero(mask))} '
            f'pixels of {label} are the foreground (see mmseg_refiner.fileio.masks)',
            IgnoredPixelsWarning,
            stacklevel=4)
        return mask
    shown = ', '.join(map(str, [0] + labels[:8])) + (', ...' if len(labels) > 8 else '')
    raise ValueError(
        f'{name} holds the labels {shown}: a label map of several classes (or a 0/1 mask '
        f'saved lossily, e.g. as JPEG), not one binary mask. Save each object as a 0/255 '
        f'(or 0/1) PNG; 255 beside one label is read as ignore')


def _uint8_foreground(values: np.ndarray, name: str) -> np.ndarray:
    present = _present(values)
    if not ((present >= UINT8_THRESHOLD) & (present < IGNORE_LABEL)).any():  # no grey levels
        return _label_foreground(values, name, present)
    return values >= UINT8_THRESHOLD


def mask_from_array(array,
                    name: str = 'mask',
                    warn_empty: bool = True,
                    labels: bool = False) -> np.ndarray:
    """Apply the mask rule to an array (or tensor): ``HxW bool``.

    Args:
        array: ``HxW`` or ``HxWx1`` of any dtype; ``HxWx3`` / ``HxWx4`` uint8 is
            a colour image (largest of the first 3 channels). A torch tensor is
            moved to the CPU first.
        name: how errors and the empty-mask warning name the mask.
        warn_empty: warn when the result has no foreground.
        labels: the values are labels (palette indices): the label rule even
            for 8-bit values.

    Raises:
        ValueError: NaN in a float mask, several labels (label rule), a dtype
            that is not bool, integer or float, or a shape that is not one mask.
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
    elif labels:
        mask = _label_foreground(array, name)
    elif array.dtype == np.uint8:
        mask = _uint8_foreground(array, name)
    elif np.issubdtype(array.dtype, np.integer):
        mask = _label_foreground(array, name)
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
    if not data:
        raise ValueError(f'mask file {path} is empty (0 bytes): an interrupted download or '
                         f'copy? Fetch or save it again')
    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)  # line up with images read by OpenCV
            mode = image.mode
            if mode in ('P', 'PA'):  # indices are labels: the label rule, never >= 128
                array = np.asarray(image)
                array = array[..., 0] if array.ndim == 3 else array
            elif mode in ('RGB', 'RGBA', 'RGBX', 'L', 'LA', '1', 'F') or mode.startswith('I'):
                array = np.asarray(image)
                if mode == 'LA':
                    array = array[..., 0]
            else:  # CMYK, YCbCr, LAB, HSV: 8-bit colour
                array = np.asarray(image.convert('RGB'))
    except Exception as error:  # Pillow raises many types for bad bytes
        raise ValueError(f'cannot read mask file {path}: {error}') from error
    return mask_from_array(
        array, f'mask file {path}', warn_empty=warn_empty, labels=mode in ('P', 'PA'))


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
        ValueError: the file is not a readable image, holds NaN or several
            labels (naming it).
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
