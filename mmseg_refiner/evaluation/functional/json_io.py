"""Writing JSON reports atomically (metrics: NaN as ``null``)."""
import json
import math
from typing import Any, Optional

from mmseg_refiner.utils.atomic_io import write_bytes_atomic


def _nan_to_none(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def write_json_atomic(path: str, obj: Any, indent: Optional[int] = 2) -> None:
    """Write ``obj`` as JSON to ``path`` so that no half-written file is ever seen.

    The text goes to a temporary file in the same folder, which then replaces
    ``path`` (:func:`mmseg_refiner.utils.write_bytes_atomic`: the file gets
    the permissions a plain ``open`` would give). NaN values of a top-level
    dict (undefined metrics) become ``null``, keeping the file strict JSON.

    Args:
        path: Destination file.
        obj: JSON-serialisable object.
        indent: Indentation; None writes compactly (large annotation files).
    """
    if isinstance(obj, dict):
        obj = {key: _nan_to_none(value) for key, value in obj.items()}
    text = json.dumps(obj, indent=indent, allow_nan=False) + '\n'
    write_bytes_atomic(path, text.encode('utf-8'))
