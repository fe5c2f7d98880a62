"""Packing pipeline results into the (inputs, data_samples) the refiner takes."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from typing import Sequence

from mmseg_refiner.registry import TRANSFORMS
from mmseg_refiner.structures import RefineDataSample


@TRANSFORMS.register_module()
class PackRefineInputs(BaseTransform):
    """Pack an image and its masks for :class:`SegRefiner`.

    Required keys: ``img`` (HxWx3 uint8, BGR). Optional keys: ``gt_mask`` and
    ``coarse_mask`` (HxW, non-zero = foreground).

    Produces ``inputs`` (3xHxW uint8 tensor) and ``data_samples``
    (:class:`RefineDataSample` with ``gt_mask`` / ``coarse_mask`` as
    1xHxW uint8 ``PixelData`` and the meta keys listed in ``meta_keys``).

    Args:
        meta_keys (Sequence[str]): keys of ``results`` copied into the data
            sample's meta information when present.
    """

    mask_keys = ('gt_mask', 'coarse_mask')

    def __init__(
        self,
        meta_keys: Sequence[str] = ('img_path', 'mask_path', 'coarse_path', 'ori_shape',
                                    'img_shape', 'scale_factor', 'flip', 'crop_bbox', 'sample_idx')
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        data_sample = RefineDataSample()
        for key in self.mask_keys:
            if key in results:
                mask = (np.asarray(results[key]) > 0).astype(np.uint8)
                if mask.shape != img.shape[:2]:
                    raise ValueError(
                        f'{key} of {results.get("img_path", "a sample")} has shape {mask.shape}, '
                        f'the image {img.shape[:2]}')
                setattr(data_sample, key, PixelData(data=torch.from_numpy(mask[None])))
        data_sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
