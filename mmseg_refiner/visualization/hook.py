"""Hook that draws refinements during validation and test runs (like mmdet's
``DetVisualizationHook``), through :class:`RefinementVisualizer`."""
import os.path as osp
import warnings
from typing import Optional, Sequence

import numpy as np
from mmengine.hooks import Hook
from mmengine.utils import mkdir_or_exist
from mmengine.visualization import Visualizer

from mmseg_refiner.fileio import read_image
from mmseg_refiner.registry import HOOKS
from mmseg_refiner.structures import RefineDataSample
from .visualizer import RefinementVisualizer


@HOOKS.register_module()
class RefinementVisualizationHook(Hook):
    """Draw coarse vs refined masks of validation / test samples.

    A sample is drawn over its packed input image when that has the masks'
    size (what the model saw), else over the image read from its ``img_path``.
    The runner's visualizer must be a :class:`RefinementVisualizer`.

    Config::

        visualizer = dict(type='RefinementVisualizer', vis_backends=[dict(type='LocalVisBackend')])
        default_hooks = dict(visualization=dict(
            type='RefinementVisualizationHook', draw=True, test_out_dir='vis'))

    Args:
        draw: draw at all (off by default, as in mmdet).
        interval: during validation, draw the first sample of every
            ``interval``-th batch.
        show: show pictures in a window instead of storing them.
        wait_time: seconds a shown picture stays open.
        test_out_dir: during testing, write every picture as a PNG to
            ``<work_dir>/<timestamp>/<test_out_dir>`` (instead of the backends).
        draw_gt: also draw the ground-truth boundary when samples have one.
        backend_args: file backend arguments for reading images.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 test_out_dir: Optional[str] = None,
                 draw_gt: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        self.draw = draw
        self.interval = interval
        self.show = show
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        self.draw_gt = draw_gt
        self.backend_args = backend_args
        self._out_dir: Optional[str] = None
        self._test_index = 0

    @property
    def _visualizer(self) -> RefinementVisualizer:
        visualizer = Visualizer.get_current_instance()
        if not isinstance(visualizer, RefinementVisualizer):
            raise TypeError(
                'RefinementVisualizationHook needs the runner\'s visualizer to be a '
                f'RefinementVisualizer, got {type(visualizer).__name__}: set '
                "visualizer = dict(type='RefinementVisualizer', vis_backends=[...]) in the config")
        if self.show:
            visualizer._vis_backends = {}
        return visualizer

    def _image_of(self, data_sample: RefineDataSample, packed: Optional[object]) -> np.ndarray:
        """The sample's image as ``HxWx3 uint8`` RGB.

        The packed input (what the model saw, BGR) when it has the coarse
        mask's size, which needs no file access and also covers samples whose
        ``img_path`` names no file (the synthetic set); otherwise the file.
        """
        coarse = getattr(data_sample, 'coarse_mask', None)
        if packed is not None and coarse is not None and tuple(packed.shape[-2:]) == coarse.shape:
            return np.ascontiguousarray(packed.detach().cpu().numpy().transpose(1, 2, 0)[..., ::-1])
        img_path = data_sample.metainfo.get('img_path')
        if img_path is None:
            raise ValueError('a data sample has neither an img_path nor a packed input image '
                             'of its masks\' size')
        return np.ascontiguousarray(read_image(img_path, self.backend_args)[..., ::-1])

    @staticmethod
    def _packed_inputs(data_batch: Optional[dict], count: int) -> list:
        inputs = data_batch.get('inputs') if isinstance(data_batch, dict) else None
        if inputs is None or len(inputs) != count:
            return [None] * count
        return list(inputs)

    def _name(self, data_sample: RefineDataSample, index: int) -> str:
        img_path = data_sample.metainfo.get('img_path')
        if img_path is not None:
            return osp.splitext(osp.basename(img_path))[0]
        return f'{data_sample.metainfo.get("sample_idx", index):06d}'

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[RefineDataSample]) -> None:
        """Draw the first sample of every ``interval``-th validation batch."""
        step = runner.iter + batch_idx
        if not self.draw or step % self.interval != 0 or not outputs:
            return
        image = self._image_of(outputs[0], self._packed_inputs(data_batch, len(outputs))[0])
        self._visualizer.add_datasample(
            self._name(outputs[0], step) if self.show else 'val_img',
            image,
            data_sample=outputs[0],
            draw_gt=self.draw_gt,
            show=self.show,
            wait_time=self.wait_time,
            step=step)

    def before_test(self, runner) -> None:
        if self.draw and self.test_out_dir is not None:
            self._out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
            mkdir_or_exist(self._out_dir)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[RefineDataSample]) -> None:
        """Draw every test sample (to ``test_out_dir`` when set)."""
        if not self.draw:
            return
        for data_sample, packed in zip(outputs, self._packed_inputs(data_batch, len(outputs))):
            self._test_index += 1
            try:
                image = self._image_of(data_sample, packed)
            except ValueError as err:
                warnings.warn(f'RefinementVisualizationHook: {err}')
                continue
            name = self._name(data_sample, self._test_index)
            out_file = osp.join(self._out_dir, f'{name}.png') if self._out_dir else None
            self._visualizer.add_datasample(
                name if self.show else 'test_img',
                image,
                data_sample=data_sample,
                draw_gt=self.draw_gt,
                show=self.show,
                wait_time=self.wait_time,
                out_file=out_file,
                step=self._test_index)
