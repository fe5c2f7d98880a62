"""The chains' own preprocessor: the raw batch, on the device, with its shapes recorded."""
from mmengine.model import BaseDataPreprocessor

from mmseg_refiner.registry import MODELS


@MODELS.register_module()
class RawBatchPreprocessor(BaseDataPreprocessor):
    """Moves the collated raw batch (uint8 images as the test pipeline packs them) to the device
    and changes nothing else: a chain's upstream model and refiner each preprocess it with their
    own preprocessor.

    A sample whose metainfo has no ``pad_shape`` gets its image's ``(h, w)`` there: the chain pads
    nothing, and OpenMMLab's tools (mmdet's ``get_flops.py``) read it from the model's
    preprocessor. The upstream preprocessor sets its own ``pad_shape`` when it pads.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        for image, sample in zip(data['inputs'], data.get('data_samples') or ()):
            if 'pad_shape' not in sample.metainfo:
                sample.set_metainfo(dict(pad_shape=tuple(image.shape[-2:])))
        return data
