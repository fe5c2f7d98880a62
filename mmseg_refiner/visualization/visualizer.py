"""MMEngine visualizer drawing a :class:`RefineDataSample` (coarse vs refined mask)."""
from typing import Optional

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.visualization import Visualizer

from mmseg_refiner.registry import VISUALIZERS
from mmseg_refiner.structures import RefineDataSample
from .draw import draw_refinement


def _mask_of(data_sample: RefineDataSample, field: str, shape) -> Optional[np.ndarray]:
    """``data_sample.<field>`` as an ``HxW bool`` array of ``shape`` (nearest resize), or None."""
    if not hasattr(data_sample, field):
        return None
    data = getattr(data_sample, field).data
    mask = data.detach().cpu().numpy() if hasattr(data, 'detach') else np.asarray(data)
    mask = mask.reshape(mask.shape[-2:]) != 0
    if mask.shape != tuple(shape):
        mask = cv2.resize(
            mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) != 0
    return mask


@VISUALIZERS.register_module()
class RefinementVisualizer(Visualizer):
    """Draws what a refiner changed, with :func:`draw_refinement`.

    Use it as the runner's visualizer, together with
    :class:`RefinementVisualizationHook`::

        visualizer = dict(type='RefinementVisualizer',
                          vis_backends=[dict(type='LocalVisBackend')])
        default_hooks = dict(visualization=dict(
            type='RefinementVisualizationHook', draw=True, test_out_dir='vis'))

    Args:
        name: the instance name (MMEngine keeps one per name).
        image: optional image to start with (RGB).
        vis_backends: backends the drawings are stored to.
        save_dir: folder of the backends.
        legend: draw the colour legend on each picture.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[list] = None,
                 save_dir: Optional[str] = None,
                 legend: bool = True) -> None:
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir)
        self.legend = legend

    def draw_sample(self,
                    image: np.ndarray,
                    data_sample: RefineDataSample,
                    draw_gt: bool = True,
                    draw_pred: bool = True) -> np.ndarray:
        """The picture of one sample, ``HxWx3 uint8`` **RGB** like ``image``.

        The coarse mask is always drawn; the refined mask (``pred_mask``) when
        ``draw_pred`` and present (otherwise the coarse mask stands in for it,
        i.e. nothing changed); the ground truth's boundary when ``draw_gt`` and
        present. Masks of another size than the image are resized to it
        (nearest).
        """
        shape = image.shape[:2]
        coarse = _mask_of(data_sample, 'coarse_mask', shape)
        if coarse is None:
            raise ValueError(
                f'data sample {data_sample.metainfo.get("img_path", "")} has no coarse_mask '
                'to draw')
        refined = _mask_of(data_sample, 'pred_mask', shape) if draw_pred else None
        gt = _mask_of(data_sample, 'gt_mask', shape) if draw_gt else None
        drawn = draw_refinement(
            np.ascontiguousarray(image[..., ::-1]),
            coarse,
            coarse if refined is None else refined,
            gt=gt,
            legend=self.legend)
        return np.ascontiguousarray(drawn[..., ::-1])

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[RefineDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> None:
        """Draw ``data_sample`` over ``image`` and show, save or store the picture.

        Args:
            name: the picture's name in the backends / the window title.
            image: ``HxWx3 uint8`` **RGB** image (MMEngine's convention).
            data_sample: the sample with ``coarse_mask`` and, after a test
                step, ``pred_mask`` (and maybe ``gt_mask``). ``None`` stores
                the image as is.
            draw_gt: draw the ground-truth boundary when the sample has one.
            draw_pred: draw the refined mask when the sample has one.
            show: show the picture in a window.
            wait_time: seconds the window stays open.
            out_file: write the picture to this file instead of the backends.
            step: the global step stored with the picture.
        """
        drawn = image if data_sample is None else self.draw_sample(image, data_sample, draw_gt,
                                                                   draw_pred)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
