"""LVIS v1 instances on COCO 2017 images: the training set of the LR model."""
import numpy as np
from collections import defaultdict
from mmengine import fileio
from mmengine.logging import MMLogger
from typing import List, Optional

from mmseg_refiner.registry import DATASETS
from mmseg_refiner.utils.settings import check_float
from .refine_base import RefineBaseDataset


def image_relative_path(image_info: dict) -> str:
    """Path of an LVIS image relative to the COCO 2017 image root.

    LVIS v1 stores no file name, only ``coco_url`` (e.g.
    ``http://images.cocodataset.org/val2017/000000397133.jpg``); its train split
    uses images of both COCO ``train2017`` and ``val2017``. The last two parts of
    the URL, ``<split folder>/<file name>``, locate the image under the COCO
    root without searching. COCO-style records without ``coco_url`` use their
    ``file_name``.
    """
    url = image_info.get('coco_url')
    if url:
        return '/'.join(url.rstrip('/').split('/')[-2:])
    return image_info['file_name']


@DATASETS.register_module()
class LVISRefineDataset(RefineBaseDataset):
    """LVIS v1 annotations (json) with COCO 2017 images, one sample per image.

    Each sample is an image with the list of its usable instances; the pipeline
    (:class:`LoadRandomInstanceMask`) picks one of them at random every time
    the image is drawn, as the paper trains on "one randomly chosen instance".
    An instance is usable when it is not a crowd, its ``area`` exceeds
    ``min_area``, its box is at least 1x1 pixel and overlaps the image, and it
    has a polygon (>= 3 points) or RLE segmentation. Images without a usable
    instance are dropped in :meth:`filter_data`.

    Image paths: ``data_prefix['img_path']`` (the COCO root holding ``train2017/``
    and ``val2017/``) joined with ``<split folder>/<file name>`` taken from each
    image's ``coco_url`` (see :func:`image_relative_path`), so both COCO folders
    are used as LVIS v1 requires. Layout::

        data/lvis_v1/annotations/lvis_v1_train.json    # ann_file
        data/coco/train2017/000000391895.jpg           # data_prefix=dict(img_path='data/coco/')
        data/coco/val2017/000000397133.jpg

    Each ``data_info`` holds ``img_path``, ``img_id``, ``height``, ``width`` and
    ``instances`` (dicts with ``ann_id``, ``bbox`` ``[x0, y0, x1, y1]``,
    ``area``, ``segmentation``; polygon parts as float32 arrays, to keep the
    1.3M LVIS annotations small in memory).

    Args:
        min_area (float): an instance needs ``area > min_area``. Defaults to 512.
        backend_args (dict, optional): file backend arguments for reading
            ``ann_file``.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments
            (``ann_file``, ``data_root``, ``data_prefix``, ``pipeline``, ...).
    """

    def __init__(self,
                 *args,
                 min_area: float = 512,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        self.min_area = check_float(type(self).__name__, 'min_area', min_area, low=0)
        self.backend_args = backend_args
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        annotations = fileio.load(self.ann_file, file_format='json', backend_args=self.backend_args)
        if not isinstance(annotations, dict) or not {'images', 'annotations'} <= annotations.keys():
            raise ValueError(
                f'{self.ann_file} is not an LVIS/COCO instance file (needs "images" and '
                '"annotations")')
        by_image = defaultdict(list)
        for ann in annotations['annotations']:
            by_image[ann['image_id']].append(ann)
        img_root = self.data_prefix.get('img_path', '')
        data_list = []
        for image in annotations['images']:
            height, width = image['height'], image['width']
            instances = [
                instance for instance in (self._parse_instance(ann, height, width)
                                          for ann in by_image.get(image['id'], ()))
                if instance is not None
            ]
            data_list.append(
                dict(
                    img_path=fileio.join_path(img_root, image_relative_path(image)),
                    img_id=image['id'],
                    height=height,
                    width=width,
                    instances=instances))
        return data_list

    def _parse_instance(self, ann: dict, height: int, width: int) -> Optional[dict]:
        """The instance of annotation ``ann`` if it is usable for training, else None."""
        if ann.get('iscrowd', 0) or ann.get('area', 0) <= self.min_area:
            return None
        x, y, w, h = ann['bbox']
        overlap_w = min(x + w, width) - max(x, 0)
        overlap_h = min(y + h, height) - max(y, 0)
        if w < 1 or h < 1 or overlap_w <= 0 or overlap_h <= 0:
            return None
        segmentation = ann.get('segmentation')
        if isinstance(segmentation, list):
            segmentation = [
                np.asarray(part, dtype=np.float32) for part in segmentation
                if len(part) >= 6 and len(part) % 2 == 0
            ]
        if not segmentation:
            return None
        return dict(
            ann_id=ann['id'],
            bbox=[x, y, x + w, y + h],
            area=ann['area'],
            segmentation=segmentation)

    def filter_data(self) -> List[dict]:
        """Drop the images without a usable instance."""
        kept = [info for info in self.data_list if info['instances']]
        dropped = len(self.data_list) - len(kept)
        if dropped:
            MMLogger.get_current_instance().info(
                f'{type(self).__name__}: {dropped} of {len(self.data_list)} images of '
                f'{self.ann_file} have no instance with area > {self.min_area} '
                '(non-crowd, non-degenerate box) and are not used')
        return kept
