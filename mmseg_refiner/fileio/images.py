"""Reading images: one reader and one list of image file extensions for every entry point.

An image is returned as ``HxWx3 uint8`` in **BGR** order, as ``mmcv.imread`` and
``cv2.imread`` give it (what mmdet's and mmseg's ``LoadImageFromFile`` load):
a grey file is repeated to 3 channels, an alpha channel is dropped, and the
EXIF orientation of a photograph is applied (OpenCV's default), so an image and
a mask saved by the same camera pipeline line up.
"""
import os
from typing import Optional, Union

import mmcv
import numpy as np
from mmengine import fileio

#: File extensions taken as images when a folder is scanned (lower case).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def read_bytes(path: Union[str, os.PathLike],
               what: str = 'file',
               backend_args: Optional[dict] = None) -> bytes:
    """The bytes of ``path`` through :func:`mmengine.fileio.get` (any storage backend).

    Raises:
        FileNotFoundError: naming the file (``what`` says what it is).
        OSError: the file exists but cannot be read.
    """
    path = os.fspath(path)
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} file {path} does not exist') from None
    except OSError as error:
        raise OSError(f'cannot read {what} file {path}: {error}') from error


def decode_image(data: bytes, path: str, flag: str = 'color', backend: str = 'cv2') -> np.ndarray:
    """Decode image bytes with :func:`mmcv.imfrombytes`; ``path`` names the file in errors.

    Raises:
        ValueError: the bytes are not a decodable image.
    """
    try:
        image = mmcv.imfrombytes(data, flag=flag, backend=backend)
    except Exception as error:  # PIL / turbojpeg / tifffile raise their own types
        raise ValueError(f'cannot decode image file {path}: {error}') from error
    if image is None:  # cv2 returns None for bytes it cannot decode
        raise ValueError(f'cannot decode image file {path}: not an image, or corrupt')
    return image


def read_image(path: Union[str, os.PathLike],
               backend_args: Optional[dict] = None,
               imdecode_backend: str = 'cv2') -> np.ndarray:
    """Read an image file as a contiguous ``HxWx3 uint8`` BGR array.

    Raises:
        FileNotFoundError: the file does not exist (naming it).
        ValueError: the file is not a readable image (naming it).
    """
    path = os.fspath(path)
    image = decode_image(read_bytes(path, 'image', backend_args), path, 'color', imdecode_backend)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])
