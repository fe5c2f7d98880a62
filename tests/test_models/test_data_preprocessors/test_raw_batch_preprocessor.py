"""RawBatchPreprocessor (a chain's own): the raw batch unchanged, each image's shape recorded
as ``pad_shape`` only where the pipeline left none."""
import torch
from mmdet.structures import DetDataSample

from mmseg_refiner.models.data_preprocessors import RawBatchPreprocessor


def test_the_raw_batch_passes_unchanged_and_unpadded_shapes_are_recorded():
    images = [
        torch.randint(0, 256, (3, 20, 30), dtype=torch.uint8),
        torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    ]
    padded = DetDataSample(metainfo=dict(img_shape=(28, 30), pad_shape=(32, 32)))
    samples = [DetDataSample(metainfo=dict(img_shape=(20, 30))), padded]
    data = RawBatchPreprocessor()(dict(inputs=list(images), data_samples=samples))
    assert all(out.dtype == torch.uint8 and torch.equal(out, image)
               for out, image in zip(data['inputs'], images))
    assert data['data_samples'][0].pad_shape == (20, 30)
    assert data['data_samples'][1].pad_shape == (32, 32)  # a Pad transform's, kept
    assert data['data_samples'][1].img_shape == (28, 30)
