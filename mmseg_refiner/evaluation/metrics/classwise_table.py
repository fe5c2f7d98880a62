"""Per-category AP table logged by the instance metrics' ``classwise`` option."""
import itertools
import numpy as np
from mmengine.logging import MMLogger
from terminaltables import AsciiTable
from typing import Dict, Sequence

#: (category, AP) column pairs per table row.
_PAIRS_PER_ROW = 3


def report_classwise_ap(metric: str, names: Sequence[str], aps: np.ndarray) -> Dict[str, float]:
    """Log a per-category AP table and return its entries as metric results.

    Args:
        metric: Evaluated IoU type (``'segm'``, ``'boundary'``...), the key prefix.
        names: Category names, in the order of ``aps``.
        aps: Per-category AP, NaN where a category has no ground truth.

    Returns:
        ``{f'{metric}_{name}_precision': AP rounded to 3 decimals}``.
    """
    cells = [(name, f'{ap:0.3f}') for name, ap in zip(names, aps)]
    columns = 2 * min(_PAIRS_PER_ROW, max(1, len(cells)))
    flat = list(itertools.chain(*cells))
    rows = itertools.zip_longest(*[flat[i::columns] for i in range(columns)])
    table = AsciiTable([['category', f'{metric} AP'] * (columns // 2), *rows])
    MMLogger.get_current_instance().info('\n' + table.table)
    return {f'{metric}_{name}_precision': round(float(ap), 3) for name, ap in zip(names, aps)}
