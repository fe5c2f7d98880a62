"""Saved instance-segmentation results (a COCO results JSON) as a test set to refine.

The paper refined the saved results of 9 models this way. The dataset pairs a
COCO-format results file (a list of ``image_id``, ``category_id``,
``segmentation`` (RLE, or polygons), ``score`` and optionally ``bbox``
records) with the annotation file that names the images and categories, and
yields one sample per image whose detections become the coarse
``pred_instances`` of an mmdet ``DetDataSample``. ``SegRefiner`` in
``'instance'`` test mode refines their masks, and mmdet's ``CocoMetric`` (or
``BoundaryCocoMetric`` / ``BoundaryLVISMetric``) evaluates them or writes them
back as a results JSON (``outfile_prefix``, ``format_only``).

Pipeline: ``LoadRefineImage`` -> :class:`LoadCoarseInstances` (decodes the
RLEs with :func:`mmseg_refiner.fileio.decode_segmentation`, which validates them)
-> :class:`PackCoarseInstances`. RLEs stay encoded in the dataset until
their image is loaded, so memory holds one image's masks at a time.
"""
import numpy as np
import os.path as osp
import torch
from collections import defaultdict
from mmcv.transforms import BaseTransform
from mmdet.structures import DetDataSample
from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path, load
from mmengine.structures import InstanceData
from typing import Dict, List, Optional, Sequence

from mmseg_refiner.fileio import (decode_segmentation, mask_boxes, size_mismatch,
                                  validate_coco_results)
from mmseg_refiner.registry import DATASETS, TRANSFORMS
from mmseg_refiner.utils.settings import check_int

#: At most this many offending ids are listed in an error message.
MAX_LISTED = 20


def _listing(values: Sequence) -> str:
    """``'1, 2, 3'``, cut after :data:`MAX_LISTED` items with the total count."""
    values = sorted(set(values), key=str)
    shown = ', '.join(str(v) for v in values[:MAX_LISTED])
    return shown if len(values) <= MAX_LISTED else f'{shown}, ... ({len(values)} in all)'


def _image_file_name(image: dict, ann_file: str) -> str:
    """``file_name`` of a COCO image entry, or the last part of LVIS' ``coco_url``."""
    if 'file_name' in image:
        return image['file_name']
    if 'coco_url' in image:
        return image['coco_url'].rstrip('/').split('/')[-1]
    raise ValueError(f'{ann_file}: image {image.get("id")} has neither file_name nor coco_url')


@DATASETS.register_module()
class CocoResultsRefineDataset(BaseDataset):
    """Detections saved as a COCO results JSON, one sample per image (or per batch of an
    image's detections).

    Each data info holds ``img_path``, ``img_id``, ``height``, ``width`` (from
    the annotation file), ``coarse_instances``: per detection its
    ``segmentation``, ``bbox`` (xywh or None), ``label``, ``score`` and
    ``result_index`` (its position in the results file), and
    ``instance_offset``. An image with more than ``max_instances_per_sample``
    detections gives several samples of that many detections (in the order of
    the results file), ``instance_offset`` the index of a sample's first
    detection among the image's: memory stays bounded whatever the number of
    detections (only one batch of masks is decoded and refined at a time), and
    the refiner seeds detection ``k`` as the whole list would, so the refined
    masks do not depend on the batching.

    Labels follow mmdet's ``CocoDataset``: ``classes`` (``metainfo``, default
    every category name of the annotation file, in file order) select
    ``cat_ids = [id of each category whose name is in classes]`` in file order
    (pycocotools' ``getCatIds(catNms=classes)``), and a category's label is its
    index there. mmdet's ``CocoMetric`` and ``LVISMetric`` derive the same
    ``cat_ids`` from the same file, so they map labels back to the right ids.

    Args:
        results_file (str): the COCO results JSON to refine.
        ann_file (str): COCO (or LVIS) annotation file: its ``images`` give the
            file names (``file_name``, else the last part of ``coco_url``) and
            sizes, its ``categories`` the category ids.
        data_root (str): joined with relative ``results_file``, ``ann_file`` and
            image prefix. Defaults to ''.
        data_prefix (dict): ``img``: the image folder. Defaults to
            ``dict(img='')``.
        pipeline (Sequence[dict]): transforms, usually ``LoadRefineImage``,
            ``LoadCoarseInstances``, ``PackCoarseInstances``.
        metainfo (dict, optional): ``classes`` to keep (default: all).
        max_instances_per_sample (int, optional): most detections of one
            sample; None for all of an image's. Defaults to 100.
        skip_images_without_results (bool): drop the annotation file's images
            that have no detection. Keep them (False) when evaluating, so that
            every sample a metric sees is complete; the refining CLI drops
            them. Defaults to False.
        backend_args (dict, optional): file backend arguments of the JSONs.
        **kwargs: other :class:`mmengine.dataset.BaseDataset` arguments.

    Raises:
        ValueError: the results name images or categories absent from the
            annotation file (or from ``classes``), listing them; a record is
            malformed (:func:`mmseg_refiner.fileio.validate_coco_results`,
            naming its index and field); a file is not of the expected form.
    """

    METAINFO: dict = dict(classes=None)

    def __init__(self,
                 results_file: str,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 max_instances_per_sample: Optional[int] = 100,
                 skip_images_without_results: bool = False,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        self.results_file = results_file
        self.max_instances_per_sample = check_int(
            type(self).__name__,
            'max_instances_per_sample',
            max_instances_per_sample,
            low=1,
            allow_none=True)
        self.skip_images_without_results = skip_images_without_results
        self.backend_args = backend_args
        kwargs.setdefault('test_mode', True)
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix if data_prefix is not None else dict(img=''),
            pipeline=list(pipeline),
            **kwargs)

    def _join_prefix(self) -> None:
        super()._join_prefix()
        if self.results_file and not osp.isabs(self.results_file) and self.data_root:
            self.results_file = join_path(self.data_root, self.results_file)

    def load_data_list(self) -> List[dict]:
        annotations = load(self.ann_file, backend_args=self.backend_args)
        if not isinstance(annotations, dict) or not {'images', 'categories'} <= set(annotations):
            raise ValueError(f'{self.ann_file} is not a COCO/LVIS annotation file (a dict with '
                             f'"images" and "categories")')
        cat2label = self._category_labels(annotations['categories'])
        images = {
            image['id']: (_image_file_name(image, self.ann_file), image['height'], image['width'])
            for image in annotations['images']
        }
        instances = self._load_results(images, cat2label)

        img_prefix = self.data_prefix.get('img', '')
        data_list = []
        for img_id, (file_name, height, width) in images.items():
            if self.skip_images_without_results and img_id not in instances:
                continue
            detections = instances.get(img_id, [])
            step = self.max_instances_per_sample or max(len(detections), 1)
            for offset in range(0, max(len(detections), 1), step):
                data_list.append(
                    dict(
                        img_path=join_path(img_prefix, file_name),
                        img_id=img_id,
                        height=height,
                        width=width,
                        instance_offset=offset,
                        coarse_instances=detections[offset:offset + step]))
        return data_list

    def _category_labels(self, categories: List[dict]) -> Dict[int, int]:
        """``{category_id: label}`` as mmdet's CocoDataset builds it; sets ``classes``."""
        names = [category['name'] for category in categories]
        classes = self._metainfo.get('classes')
        if classes is None:
            classes = tuple(names)
            self._metainfo['classes'] = classes
        missing = [name for name in classes if name not in names]
        if missing:
            raise ValueError(f'metainfo classes not in {self.ann_file}: {_listing(missing)}')
        cat_ids = [category['id'] for category in categories if category['name'] in classes]
        return {cat_id: label for label, cat_id in enumerate(cat_ids)}

    def _load_results(self, images: dict, cat2label: Dict[int, int]) -> Dict[int, List[dict]]:
        """Detections grouped by image, checked against the annotation file."""
        results = validate_coco_results(
            load(self.results_file, backend_args=self.backend_args), self.results_file)
        instances = defaultdict(list)
        unknown_images, unknown_categories = [], []
        for index, record in enumerate(results):
            if record['image_id'] not in images:
                unknown_images.append(record['image_id'])
            if record['category_id'] not in cat2label:
                unknown_categories.append(record['category_id'])
            if unknown_images or unknown_categories:
                continue
            instances[record['image_id']].append(
                dict(
                    segmentation=record['segmentation'],
                    bbox=record.get('bbox'),
                    label=cat2label[record['category_id']],
                    score=float(record['score']),
                    result_index=index))
        problems = []
        if unknown_images:
            problems.append(f'image ids not in the annotation file: {_listing(unknown_images)}')
        if unknown_categories:
            problems.append(f'category ids not among its categories (or the chosen classes): '
                            f'{_listing(unknown_categories)}')
        if problems:
            raise ValueError(f'{self.results_file} does not match {self.ann_file}: ' +
                             '; '.join(problems))
        return instances


@TRANSFORMS.register_module()
class LoadCoarseInstances(BaseTransform):
    """Decode the ``coarse_instances`` of a :class:`CocoResultsRefineDataset` sample.

    Required keys: ``img`` (loaded), ``img_path``, ``height``, ``width``,
    ``coarse_instances``. Added keys: ``coarse_masks`` (N, H, W) uint8,
    ``coarse_bboxes`` (N, 4) float32 xyxy (the record's ``bbox``, else the
    box of its mask), ``coarse_labels`` (N,) int64, ``coarse_scores`` (N,)
    float32, ``result_indices`` (N,) int64.

    Raises:
        ValueError: the image's size differs from the annotation file's, or a
            segmentation is malformed or of another size (naming the image and
            the detection's index in the results file).
    """

    def transform(self, results: dict) -> dict:
        height, width = results['height'], results['width']
        if results['img'].shape[:2] != (height, width):
            raise ValueError(
                size_mismatch(results['img_path'], results['img'].shape[:2], (height, width)))
        instances = results['coarse_instances']
        masks = np.zeros((len(instances), height, width), dtype=np.uint8)
        for i, instance in enumerate(instances):
            masks[i] = decode_segmentation(
                instance['segmentation'], height, width,
                f'detection {instance["result_index"]} (image {results["img_path"]}) of the '
                'results file')
        boxes = mask_boxes(masks)
        for i, instance in enumerate(instances):
            if instance['bbox'] is not None:
                x, y, w, h = instance['bbox']
                boxes[i] = (x, y, x + w, y + h)
        results['coarse_masks'] = masks
        results['coarse_bboxes'] = boxes
        results['coarse_labels'] = np.array([inst['label'] for inst in instances], np.int64)
        results['coarse_scores'] = np.array([inst['score'] for inst in instances], np.float32)
        results['result_indices'] = np.array([inst['result_index'] for inst in instances], np.int64)
        return results


@TRANSFORMS.register_module()
class PackCoarseInstances(BaseTransform):
    """Pack an image and its decoded detections as an mmdet ``DetDataSample``.

    Produces ``inputs`` (3xHxW uint8 tensor, BGR) and ``data_samples``: a
    ``DetDataSample`` whose ``pred_instances`` hold ``masks`` (N, H, W bool),
    ``bboxes`` (N, 4 float), ``labels``, ``scores`` and ``result_indices``,
    with the meta keys ``img_id``, ``img_path``, ``ori_shape``, ``img_shape``
    and ``scale_factor`` (1, 1: the refiner works at the original size).
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        data_sample = DetDataSample(
            metainfo=dict(
                img_id=results['img_id'],
                img_path=results['img_path'],
                instance_offset=results.get('instance_offset', 0),
                ori_shape=img.shape[:2],
                img_shape=img.shape[:2],
                scale_factor=(1.0, 1.0)))
        data_sample.pred_instances = InstanceData(
            masks=torch.from_numpy(results['coarse_masks']).bool(),
            bboxes=torch.from_numpy(results['coarse_bboxes']),
            labels=torch.from_numpy(results['coarse_labels']),
            scores=torch.from_numpy(results['coarse_scores']),
            result_indices=torch.from_numpy(results['result_indices']))
        return dict(inputs=inputs, data_samples=data_sample)
