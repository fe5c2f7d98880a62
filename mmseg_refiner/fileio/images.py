"""Reading images: one reader and one list of image file extensions for every entry point.

An image is returned as ``HxWx3 uint8`` in **BGR** order, as ``mmcv.imread`` and
``cv2.imread`` give it (what mmdet's and mmseg's ``LoadImageFromFile`` load):
a grey file is repeated to 3 channels, an alpha channel is dropped, and the
EXIF orientation of a photograph is applied (OpenCV's default), so an image and
a mask saved by the same camera pipeline line up.
"""
import mmcv
import numpy as np
import os
import os.path as osp
from mmengine import fileio
from typing import Optional, Tuple, Union

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
    if osp.isdir(path):
        raise IsADirectoryError(f'{what} file {path} is a directory, not a file')
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} file {path} does not exist') from None
    except OSError as error:
        raise OSError(f'cannot read {what} file {path}: {error}') from error


def decode_image(data: bytes, path: str, flag: str = 'color', backend: str = 'cv2') -> np.ndarray:
    """Decode image bytes with :func:`mmcv.imfrombytes`; ``path`` names the file in errors.

    Raises:
        ValueError: the bytes are empty or not a decodable image.
    """
    if not data:
        raise ValueError(f'image file {path} is empty (0 bytes): an interrupted download or '
                         f'copy? Fetch or save it again')
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


#: EXIF orientations that swap width and height (rotations by 90 degrees).
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


def size_mismatch(path: str, shape: Tuple[int, int], annotated: Tuple[int, int]) -> str:
    """Why an image of ``shape`` (HxW, as read) does not fit its ``annotated`` size: the
    message names the file, and says so when the file's EXIF orientation rotated it (images
    are read upright, as OpenCV does; an annotation may give the size as stored)."""
    message = (f'image {path} is {shape[0]}x{shape[1]} (HxW) but its annotation says '
               f'{annotated[0]}x{annotated[1]}')
    if tuple(annotated) == tuple(shape[::-1]):
        try:
            from PIL import Image
            with Image.open(path) as image:
                orientation = image.getexif().get(0x0112)
        except Exception:  # not readable by Pillow: no EXIF to explain it
            orientation = None
        if orientation in _TRANSPOSING_ORIENTATIONS:
            message += (f': its EXIF orientation ({orientation}) rotates it by 90 degrees when '
                        f'read, and the annotation gives the stored size. Rotate the file '
                        f'upright (e.g. exiftran -ai, or re-save it) or fix the annotation')
    return message
