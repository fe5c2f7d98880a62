"""Writing JSON reports atomically (metrics: NaN as ``null``)."""
import json
import math
import os
import os.path as osp
import tempfile
from typing import Any, Optional


def _nan_to_none(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def write_json_atomic(path: str, obj: Any, indent: Optional[int] = 2) -> None:
    """Write ``obj`` as JSON to ``path`` so that no half-written file is ever seen.

    The text goes to a temporary file in the same folder, which then replaces
    ``path``. NaN values of a top-level dict (undefined metrics) become
    ``null``, keeping the file strict JSON.

    Args:
        path: Destination file.
        obj: JSON-serialisable object.
        indent: Indentation; None writes compactly (large annotation files).
    """
    if isinstance(obj, dict):
        obj = {key: _nan_to_none(value) for key, value in obj.items()}
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix='.tmp-', suffix='.json', dir=folder)
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f, indent=indent, allow_nan=False)
            f.write('\n')
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
