"""The files a refinement of one image writes: mask, probability map, picture.

- the refined mask: a 0/255 8-bit PNG;
- on request its probability map (:func:`mmseg_refiner.fileio.write_prob_png`):
  a grey PNG, pixel value ``v`` meaning probability ``v / 255`` (8 bits, the
  default: ``v >= 128`` is the refined mask) or ``v / 65535`` (16 bits);
- on request a picture of the change (:func:`mmseg_refiner.visualization.draw_refinement`),
  with the ground truth when given and, with ``vis_probs``, a heat-map panel of
  the probability.

Every file is written atomically.
"""
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional

from mmseg_refiner.fileio import write_image_atomic, write_mask_png, write_prob_png
from mmseg_refiner.visualization import draw_refinement


@dataclass
class OutputPaths:
    """Where one refinement goes: ``out`` (the mask), optional ``probs`` and ``vis``."""
    out: str
    probs: Optional[str] = None
    vis: Optional[str] = None

    def optional(self) -> List[str]:
        """The optional files asked for."""
        return [path for path in (self.probs, self.vis) if path is not None]

    def exist(self) -> bool:
        """Whether every file is there."""
        return all(osp.isfile(path) for path in (self.out, *self.optional()))


def write_refinement(paths: OutputPaths,
                     image,
                     coarse,
                     refined,
                     prob=None,
                     gt=None,
                     probs_bits: int = 8,
                     vis_probs: bool = False) -> None:
    """Write the files of ``paths`` for one image's refinement (module docstring).

    Args:
        paths: the files to write.
        image: ``HxWx3 uint8`` BGR image (for the picture).
        coarse, refined: ``HxW`` bool masks.
        prob: ``HxW`` float refined probability; needed for ``paths.probs`` and
            ``vis_probs``.
        gt: optional ``HxW`` ground truth, drawn in the picture.
        probs_bits: 8 or 16, the bit depth of the probability PNG.
        vis_probs: add the probability heat map to the picture.
    """
    if (paths.probs is not None or vis_probs) and prob is None:
        raise ValueError('a probability map or panel was asked for without the probability')
    if paths.vis is not None:
        write_image_atomic(
            paths.vis,
            draw_refinement(image, coarse, refined, gt, prob=prob if vis_probs else None))
    if paths.probs is not None:
        write_prob_png(paths.probs, prob, probs_bits)
    write_mask_png(paths.out, refined)
