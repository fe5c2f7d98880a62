"""Writing files atomically: readers see the old file or the new one, never half of one.

Every PNG, JSON and binary output of this package goes through here.

The bytes go to a temporary file in the destination folder, which then
replaces the destination with ``os.replace`` (atomic on one file system).
``tempfile.mkstemp`` creates that file private (``0600``); before the rename it
gets the permissions a plain ``open(path, 'w')`` would give (``0666`` minus the
process umask).
"""
import cv2
import json
import math
import numpy as np
import os
import os.path as osp
import tempfile
from typing import Any, Optional, Union

from .masks import mask_to_uint8


def current_umask() -> int:
    """The process umask, read without changing it when the system allows.

    Linux (>= 4.7) reports it in ``/proc/self/status``; elsewhere it is read
    with ``os.umask``, which must set it to read it (restored at once).
    """
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def write_bytes_atomic(path: Union[str, os.PathLike], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, with the permissions ``open`` would give.

    Missing folders are created. If anything fails, the temporary file is
    removed and ``path`` is left as it was; an ``OSError`` (a read-only folder,
    a full disk) names ``path``, not the temporary file.

    Args:
        path: destination file.
        data: the complete file content.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    tmp_path = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
        with os.fdopen(fd, 'wb') as file:
            file.write(data)
        os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    except BaseException as error:
        if tmp_path is not None and osp.exists(tmp_path):
            os.remove(tmp_path)
        if isinstance(error, OSError):  # read-only, full disk...: name the file, not the temp
            raise OSError(error.errno, error.strerror or str(error), path) from error
        raise


def write_image_atomic(path: Union[str, os.PathLike], image: np.ndarray) -> None:
    """Encode ``image`` (BGR, or grey) as ``path``'s extension says and write it atomically.

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


def write_mask_png(path: Union[str, os.PathLike], mask: np.ndarray) -> None:
    """Write a binary mask (``!= 0`` is foreground) atomically as an 8-bit 0/255 PNG.

    Raises:
        ValueError: ``path`` does not end with ``.png`` (a lossy format would
            change the mask).
    """
    path = os.fspath(path)
    if osp.splitext(path)[1].lower() != '.png':
        raise ValueError(f'masks are written as PNG, not {path}')
    write_image_atomic(path, mask_to_uint8(mask))


#: Bit depths of probability PNGs: pixel value ``v`` means probability ``v / (2**bits - 1)``.
PROB_PNG_BITS = (8, 16)


def prob_to_png_values(prob: np.ndarray, bits: int = 8) -> np.ndarray:
    """Probabilities in [0, 1] as PNG values: ``round(p * (2**bits - 1))``, uint8 or uint16."""
    if bits not in PROB_PNG_BITS:
        raise ValueError(f'probability PNGs have {PROB_PNG_BITS} bits, got {bits}')
    prob = np.asarray(prob, dtype=np.float64)
    if not np.isfinite(prob).all():
        raise ValueError('a probability map holds NaN or Inf')
    scale = 2**bits - 1
    return np.rint(np.clip(prob, 0, 1) * scale).astype(np.uint8 if bits == 8 else np.uint16)


def write_prob_png(path: Union[str, os.PathLike], prob: np.ndarray, bits: int = 8) -> None:
    """Write an ``HxW`` probability map atomically as a grey PNG of ``bits`` (8 or 16) bits.

    Pixel value ``v`` stands for probability ``v / 255`` (8 bits: 0.5 is 128,
    so a value ``>= 128`` is foreground) or ``v / 65535`` (16 bits).

    Raises:
        ValueError: ``path`` does not end with ``.png``, a bit depth other
            than 8 or 16, or a map with NaN / Inf.
    """
    path = os.fspath(path)
    if osp.splitext(path)[1].lower() != '.png':
        raise ValueError(f'probability maps are written as PNG, not {path}')
    write_image_atomic(path, prob_to_png_values(prob, bits))


def _nan_to_none(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def write_json_atomic(path: Union[str, os.PathLike], obj: Any, indent: Optional[int] = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically.

    NaN values of a top-level dict (undefined metrics) become ``null``, keeping
    the file strict JSON.

    Args:
        path: destination file.
        obj: JSON-serialisable object.
        indent: indentation; None writes compactly (large annotation files).
    """
    if isinstance(obj, dict):
        obj = {key: _nan_to_none(value) for key, value in obj.items()}
    text = json.dumps(obj, indent=indent, allow_nan=False) + '\n'
    write_bytes_atomic(path, text.encode('utf-8'))
