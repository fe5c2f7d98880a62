"""Writing files atomically: readers see the old file or the new one, never half of one.

The bytes go to a temporary file in the destination folder, which then
replaces the destination with ``os.replace`` (atomic on one file system).
``tempfile.mkstemp`` creates that file private (``0600``); before the rename it
gets the permissions a plain ``open(path, 'w')`` would give (``0666`` minus the
process umask).
"""
import os
import os.path as osp
import tempfile
from typing import Union


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
    removed and ``path`` is left as it was.

    Args:
        path: destination file.
        data: the complete file content.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as file:
            file.write(data)
        os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
