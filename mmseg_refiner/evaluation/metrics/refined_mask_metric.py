"""IoU and mBA of refined (and coarse) masks, the paper's high-resolution metrics."""
import numpy as np
from mmengine.evaluator import BaseMetric
from typing import Any, Dict, Optional, Sequence

from mmseg_refiner.registry import METRICS
from ..functional import (MIN_RADIUS, NUM_RADII, RADIUS_DIVISOR, check_mba_settings, mask_record,
                          summarize_mask_records)


def _field(sample: Any, name: str) -> Any:
    """A field of a data sample given as a dict (as the Evaluator passes it) or element."""
    if isinstance(sample, dict):
        return sample.get(name)
    return getattr(sample, name, None)


def _mask_of(sample: Any, name: str) -> Optional[np.ndarray]:
    """``HxW`` bool mask from ``sample[name]['data']`` (``1xHxW``), or None if absent."""
    pixel_data = _field(sample, name)
    if pixel_data is None:
        return None
    data = _field(pixel_data, 'data')
    if data is None:
        return None
    if hasattr(data, 'detach'):
        data = data.detach().cpu().numpy()
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise ValueError(f'{name}.data of {_name_of(sample)} should be 1xHxW or HxW, '
                         f'got shape {data.shape}')
    return data > 0


def _name_of(sample: Any) -> str:
    metainfo = sample.get('metainfo', sample) if isinstance(sample, dict) else sample.metainfo
    return str(metainfo.get('img_path', 'a data sample'))


@METRICS.register_module()
class RefinedMaskMetric(BaseMetric):
    """Dataset IoU and mean Boundary Accuracy of refined masks.

    The paper reports them on the high-resolution benchmarks (BIG, DIS5K); the
    shipped configs also validate the training recipes with them.

    Consumes ``RefineDataSample``-style outputs: ``gt_mask.data`` and
    ``pred_mask.data`` (``1xHxW``, same size), and ``coarse_mask.data`` when
    present, which adds the coarse masks' figures. ``iou`` is total
    intersection / total union over the dataset; ``mba`` the mean over images
    of CascadePSP's boundary accuracy (images whose ground truth has no
    boundary are left out of it).

    Results (with the default prefix): ``mask/iou``, ``mask/mba`` and, with
    coarse masks, ``mask/coarse_iou``, ``mask/coarse_mba``, all fractions.

    Args:
        num_radii: Number of mBA band radii.
        min_radius: Smallest band radius.
        radius_divisor: Largest radius scale ``R = (w + h) / radius_divisor``.
        collect_device: ``'cpu'`` or ``'gpu'``, for distributed collection.
        prefix: Metric name prefix (default ``'mask'``).
    """
    default_prefix: Optional[str] = 'mask'

    def __init__(self,
                 num_radii: int = NUM_RADII,
                 min_radius: int = MIN_RADIUS,
                 radius_divisor: float = RADIUS_DIVISOR,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.mba_kwargs = check_mba_settings('RefinedMaskMetric', num_radii, min_radius,
                                             radius_divisor)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep each sample's intersection/union counts and mBA (not its masks)."""
        for sample in data_samples:
            gt = _mask_of(sample, 'gt_mask')
            pred = _mask_of(sample, 'pred_mask')
            if gt is None or pred is None:
                raise KeyError(f'{_name_of(sample)} lacks gt_mask or pred_mask data, which '
                               'RefinedMaskMetric needs')
            coarse = _mask_of(sample, 'coarse_mask')
            for name, mask in (('pred_mask', pred), ('coarse_mask', coarse)):
                if mask is not None and mask.shape != gt.shape:
                    raise ValueError(f'{_name_of(sample)}: {name} is {mask.shape} but gt_mask '
                                     f'is {gt.shape}')
            self.results.append(mask_record(pred, gt, coarse, **self.mba_kwargs))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """``iou``, ``mba`` (and ``coarse_iou``, ``coarse_mba``)."""
        return summarize_mask_records(results)
