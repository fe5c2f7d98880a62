"""Data sample passed between datasets, the refiner and metrics."""
from mmengine.structures import BaseDataElement, PixelData


class RefineDataSample(BaseDataElement):
    """One (image, mask) pair for SegRefiner.

    Fields (all optional, all :class:`PixelData` whose ``data`` is ``(1, H, W)``):

    - ``gt_mask``: ground-truth binary mask (uint8 0/1), the diffusion's *fine* state.
    - ``coarse_mask``: the mask to refine (uint8 0/1), the diffusion's *coarse* state.
    - ``pred_mask``: written by the refiner: ``data`` is the refined binary mask
      (bool) and ``prob`` the refined foreground probability (float).

    Meta information follows MMEngine conventions (``img_path``, ``ori_shape``,
    ``img_shape``, ``flip``...).
    """

    @property
    def gt_mask(self) -> PixelData:
        return self._gt_mask

    @gt_mask.setter
    def gt_mask(self, value: PixelData) -> None:
        self.set_field(value, '_gt_mask', dtype=PixelData)

    @gt_mask.deleter
    def gt_mask(self) -> None:
        del self._gt_mask

    @property
    def coarse_mask(self) -> PixelData:
        return self._coarse_mask

    @coarse_mask.setter
    def coarse_mask(self, value: PixelData) -> None:
        self.set_field(value, '_coarse_mask', dtype=PixelData)

    @coarse_mask.deleter
    def coarse_mask(self) -> None:
        del self._coarse_mask

    @property
    def pred_mask(self) -> PixelData:
        return self._pred_mask

    @pred_mask.setter
    def pred_mask(self, value: PixelData) -> None:
        self.set_field(value, '_pred_mask', dtype=PixelData)

    @pred_mask.deleter
    def pred_mask(self) -> None:
        del self._pred_mask
