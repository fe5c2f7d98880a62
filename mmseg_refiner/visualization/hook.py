"""Hook that draws before / after pictures in validation and test runs (as mmdet's
``DetVisualizationHook``; ``tools/test.py --show / --show-dir`` switch it on)."""
import cv2
import numpy as np
import os.path as osp
from mmengine.hooks import Hook
from mmengine.utils import mkdir_or_exist
from typing import Optional, Sequence, Tuple

from mmseg_refiner.fileio import decode_segmentation, read_image, write_image_atomic
from mmseg_refiner.registry import HOOKS
from .draw import draw_refinement

MaskTriple = Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]


def _numpy(data) -> np.ndarray:
    if hasattr(data, 'to_ndarray'):  # mmdet BitmapMasks / PolygonMasks
        return data.to_ndarray()
    return data.detach().cpu().numpy() if hasattr(data, 'detach') else np.asarray(data)


def _fit(masks: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """``(N, h, w)`` masks resized to ``shape`` (nearest)."""
    if masks.shape[1:] == tuple(shape):
        return masks
    return np.stack([
        cv2.resize(m.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
        for m in masks
    ]) if len(masks) else np.zeros((0, *shape), np.uint8)


def _label_classes(maps: Sequence[Optional[np.ndarray]], ignore_index: int = 255) -> list:
    """The classes present in any of the label maps, in order (``ignore_index`` left out)."""
    classes = sorted(set().union(*(np.unique(m).tolist() for m in maps if m is not None)))
    return [c for c in classes if c != ignore_index]


def _label_maps(data_sample) -> list:
    """``coarse_sem_seg``, ``pred_sem_seg``, ``gt_sem_seg`` label maps (None if absent)."""
    return [
        _numpy(getattr(data_sample, key).data)[0] if key in data_sample else None
        for key in ('coarse_sem_seg', 'pred_sem_seg', 'gt_sem_seg')
    ]


def _label_stacks(maps: Sequence[Optional[np.ndarray]]) -> list:
    """Label maps as per-class binary stacks over the same classes (those in any map)."""
    classes = _label_classes(maps)
    return [
        None if m is None else np.stack([m == c for c in classes]) if classes else np.zeros(
            (0, *m.shape), bool) for m in maps
    ]


def sample_class_names(data_sample, classes: Optional[Sequence[str]]) -> Optional[list]:
    """Names of the masks :func:`sample_masks` draws for a label-map sample (None otherwise,
    or without ``classes``, the dataset's class names)."""
    if classes is None or 'coarse_sem_seg' not in data_sample:
        return None
    return [
        classes[c] if 0 <= c < len(classes) else f'class {c}'
        for c in _label_classes(_label_maps(data_sample))
    ]


def sample_masks(data_sample, shape: Tuple[int, int]) -> MaskTriple:
    """``(coarse, refined, gt)`` of any sample this package predicts, at ``shape``.

    * ``RefineDataSample``: ``coarse_mask``, ``pred_mask``, ``gt_mask``.
    * mmdet ``DetDataSample`` (``RefinedDetector``, refined COCO results):
      ``pred_instances.coarse_masks`` / ``.masks``, ``gt_instances.masks``.
    * mmseg ``SegDataSample`` (``RefinedSegmentor``): ``coarse_sem_seg``,
      ``pred_sem_seg``, ``gt_sem_seg``, drawn class by class (one mask per class
      present in any of them, the same classes in all three).

    ``gt`` is None when the sample has none. Masks of another size are resized
    to ``shape`` (nearest).
    """
    if 'pred_instances' in data_sample:
        pred = data_sample.pred_instances
        if 'coarse_masks' not in pred:
            raise ValueError('the data sample has no pred_instances.coarse_masks to draw')
        gt = None
        if 'gt_instances' in data_sample and 'masks' in data_sample.gt_instances:
            gt = _fit(_numpy(data_sample.gt_instances.masks), shape)
        return _fit(_numpy(pred.coarse_masks), shape), _fit(_numpy(pred.masks), shape), gt
    if 'coarse_sem_seg' in data_sample:
        coarse, refined, gt = _label_stacks(_label_maps(data_sample))
        return _fit(coarse, shape), _fit(refined, shape), None if gt is None else _fit(gt, shape)
    if 'coarse_mask' not in data_sample:
        raise ValueError(f'data sample {data_sample.metainfo.get("img_path", "")} has neither '
                         'coarse_mask, coarse_sem_seg nor pred_instances.coarse_masks to draw')
    masks = [
        _numpy(getattr(data_sample, key).data).reshape(
            1,
            *_numpy(getattr(data_sample, key).data).shape[-2:]) if key in data_sample else None
        for key in ('coarse_mask', 'pred_mask', 'gt_mask')
    ]
    coarse = _fit(masks[0], shape)
    refined = coarse if masks[1] is None else _fit(masks[1], shape)
    return coarse, refined, None if masks[2] is None else _fit(masks[2], shape)


@HOOKS.register_module()
class RefinementVisualizationHook(Hook):
    """Draw image | coarse | refined (| ground truth) of validation / test samples.

    Pictures come from :func:`~mmseg_refiner.visualization.draw_refinement`.
    A sample is drawn over its packed input image when that has the masks'
    size (what the model saw; also covers samples whose ``img_path`` names no
    file, as the synthetic set's), else over the image read from its
    ``img_path`` (the original image, as mmdet's hook does).

    Config (``tools/test.py --show-dir DIR`` sets ``draw=True`` and
    ``test_out_dir=DIR`` for you)::

        default_hooks = dict(visualization=dict(
            type='mmseg_refiner.RefinementVisualizationHook', draw=True, test_out_dir='vis'))

    Args:
        draw: draw at all (off by default, as in mmdet).
        interval: during validation, draw the first sample of every
            ``interval``-th batch (stored with the runner's visualizer
            backends); during testing every sample is drawn.
        show: show pictures in a window.
        wait_time: seconds a shown picture stays open.
        test_out_dir: during testing, write every picture as a PNG to
            ``<work_dir>/<timestamp>/<test_out_dir>`` (an absolute path is
            used as it is).
        draw_gt: also draw the ground truth when samples have one; for an mmdet
            dataset whose test pipeline does not load masks (mmdet's own), the
            instance masks of the dataset's annotations.
        draw_changes: add a panel of the pixels the refinement added and
            removed (two colours; for a label map, to and from its
            ``background`` class, and pixels moved between two other classes
            in their new class's colour).
        backend_args: file backend arguments for reading images.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 test_out_dir: Optional[str] = None,
                 draw_gt: bool = True,
                 draw_changes: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        self.draw = draw
        self.interval = interval
        self.show = show
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        self.draw_gt = draw_gt
        self.draw_changes = draw_changes
        self._classes: Optional[Sequence[str]] = None
        self._dataset = None
        self._annotations: Optional[dict] = None
        self.backend_args = backend_args
        self._out_dir: Optional[str] = None
        self._test_index = 0

    def picture(self, data_sample, packed=None) -> np.ndarray:
        """The BGR picture of one sample (``packed``: its input image tensor, if any)."""
        image = self._image_of(data_sample, packed)
        coarse, refined, gt = sample_masks(data_sample, image.shape[:2])
        if gt is None and 'pred_instances' in data_sample:
            gt = self._annotated_masks(data_sample, image.shape[:2])
        return draw_refinement(
            image,
            coarse,
            refined,
            gt if self.draw_gt else None,
            paired_gt='coarse_sem_seg' in data_sample,
            names=sample_class_names(data_sample, self._classes),
            changes=self.draw_changes)

    def _remember_dataset(self, runner, loader: str) -> None:
        """Class names and instance annotations of the loop's dataset, for the pictures."""
        dataset = getattr(getattr(runner, loader, None), 'dataset', None)
        meta = getattr(dataset, 'metainfo', None) or {}
        self._classes = meta.get('classes')
        self._dataset = dataset
        self._annotations = None

    def _annotated_masks(self, data_sample, shape: Tuple[int, int]) -> Optional[np.ndarray]:
        """The instance masks the dataset annotates for the sample's image (mmdet datasets
        keep them even when the test pipeline does not load them), at ``shape``."""
        if self._dataset is None or not hasattr(self._dataset, 'get_data_info'):
            return None
        if self._annotations is None:
            self._annotations = {}
            for index in range(len(self._dataset)):
                info = self._dataset.get_data_info(index)
                instances = [i for i in info.get('instances', []) if 'mask' in i]
                if instances and 'img_path' in info:
                    self._annotations[info['img_path']] = (info, instances)
        found = self._annotations.get(data_sample.metainfo.get('img_path'))
        if found is None:
            return None
        info, instances = found
        height, width = info.get('height', shape[0]), info.get('width', shape[1])
        masks = np.stack([
            decode_segmentation(i['mask'], height, width, f'{info["img_path"]} annotation')
            for i in instances if not i.get('ignore_flag', 0)
        ] or [np.zeros((height, width), np.uint8)])
        return _fit(masks, shape)

    def _image_of(self, data_sample, packed) -> np.ndarray:
        """The sample's image as ``HxWx3 uint8`` BGR."""
        shape = None
        if 'coarse_mask' in data_sample:
            shape = tuple(data_sample.coarse_mask.data.shape[-2:])
        if packed is not None and shape is not None and tuple(packed.shape[-2:]) == shape:
            return np.ascontiguousarray(packed.detach().cpu().numpy().transpose(1, 2, 0))
        img_path = data_sample.metainfo.get('img_path')
        if img_path is None:
            raise ValueError('a data sample has neither an img_path nor a packed input image '
                             "of its masks' size")
        return read_image(img_path, self.backend_args)

    @staticmethod
    def _packed_inputs(data_batch: Optional[dict], count: int) -> list:
        inputs = data_batch.get('inputs') if isinstance(data_batch, dict) else None
        if inputs is None or len(inputs) != count:
            return [None] * count
        return list(inputs)

    @staticmethod
    def _name(data_sample, index: int) -> str:
        img_path = data_sample.metainfo.get('img_path')
        if img_path is not None:
            return osp.splitext(osp.basename(img_path))[0]
        return f'{data_sample.metainfo.get("sample_idx", index):06d}'

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict, outputs: Sequence) -> None:
        """Draw the first sample of every ``interval``-th validation batch."""
        if not self.draw or batch_idx % self.interval != 0 or not outputs:
            return
        drawn = self.picture(outputs[0], self._packed_inputs(data_batch, len(outputs))[0])
        name = f'val_{self._name(outputs[0], batch_idx)}'
        if self.show:
            runner.visualizer.show(drawn[..., ::-1], win_name=name, wait_time=self.wait_time)
        runner.visualizer.add_image(name, drawn[..., ::-1], step=runner.iter)

    def before_val(self, runner) -> None:
        self._remember_dataset(runner, 'val_dataloader')

    def before_test(self, runner) -> None:
        self._remember_dataset(runner, 'test_dataloader')
        self._test_index = 0
        if self.draw and self.test_out_dir is not None:
            self._out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
            mkdir_or_exist(self._out_dir)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict, outputs: Sequence) -> None:
        """Draw every test sample (to ``test_out_dir`` when set)."""
        if not self.draw:
            return
        for data_sample, packed in zip(outputs, self._packed_inputs(data_batch, len(outputs))):
            self._test_index += 1
            drawn = self.picture(data_sample, packed)
            name = self._name(data_sample, self._test_index)
            if self.show:
                runner.visualizer.show(drawn[..., ::-1], win_name=name, wait_time=self.wait_time)
            if self._out_dir is not None:
                write_image_atomic(osp.join(self._out_dir, f'{name}.png'), drawn)
            elif not self.show:
                runner.visualizer.add_image('test_img', drawn[..., ::-1], step=self._test_index)
