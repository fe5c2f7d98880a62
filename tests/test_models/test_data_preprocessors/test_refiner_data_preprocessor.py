"""RefinerDataPreprocessor: BGR->RGB, normalization, stacking vs list."""
import pytest
import torch
from mmengine.structures import PixelData

from mmseg_refiner.models.data_preprocessors import RefinerDataPreprocessor
from mmseg_refiner.registry import MODELS
from mmseg_refiner.structures import RefineDataSample

MEAN_RGB = (123.675, 116.28, 103.53)
STD_RGB = (58.395, 57.12, 57.375)


def _image(height, width, bgr_pixel=(10, 20, 30)):
    img = torch.zeros(3, height, width, dtype=torch.uint8)
    img[:, 1, 2] = torch.tensor(bgr_pixel, dtype=torch.uint8)
    return img


def _sample(height, width, path):
    sample = RefineDataSample(metainfo=dict(img_path=path))
    sample.coarse_mask = PixelData(data=torch.ones(1, height, width, dtype=torch.uint8))
    return sample


def test_same_size_images_are_stacked_and_normalized():
    preprocessor = MODELS.build(dict(type='RefinerDataPreprocessor'))
    samples = [_sample(4, 5, 'a.jpg'), _sample(4, 5, 'b.jpg')]
    out = preprocessor(
        dict(inputs=[_image(4, 5), _image(4, 5, (0, 0, 255))], data_samples=samples), training=True)
    inputs = out['inputs']
    assert isinstance(inputs, torch.Tensor)
    assert inputs.shape == (2, 3, 4, 5) and inputs.dtype == torch.float32
    # BGR (10, 20, 30) -> RGB (30, 20, 10), then (v - mean) / std per channel
    expected = [(30 - 123.675) / 58.395, (20 - 116.28) / 57.12, (10 - 103.53) / 57.375]
    assert inputs[0, :, 1, 2].tolist() == pytest.approx(expected, rel=1e-6)
    assert inputs[1, 0, 1, 2].item() == pytest.approx((255 - 123.675) / 58.395, rel=1e-6)
    assert inputs[1, 2, 1, 2].item() == pytest.approx(-103.53 / 57.375, rel=1e-6)
    assert out['data_samples'][1].img_path == 'b.jpg'
    assert torch.equal(out['data_samples'][0].coarse_mask.data, samples[0].coarse_mask.data)


def test_different_sizes_stay_a_list():
    preprocessor = RefinerDataPreprocessor()
    out = preprocessor(dict(inputs=[_image(4, 5), _image(6, 3)]))
    assert isinstance(out['inputs'], list)
    assert [tuple(img.shape) for img in out['inputs']] == [(3, 4, 5), (3, 6, 3)]
    assert out['inputs'][1][0, 1, 2].item() == pytest.approx((30 - 123.675) / 58.395, rel=1e-6)
    assert out['inputs'][1][1, 0, 0].item() == pytest.approx(-116.28 / 57.12, rel=1e-6)
    assert out['data_samples'] is None


def test_without_channel_flip():
    preprocessor = RefinerDataPreprocessor(mean=(0, 0, 0), std=(2, 2, 2), bgr_to_rgb=False)
    out = preprocessor(dict(inputs=[_image(4, 5)]))
    assert out['inputs'][0, :, 1, 2].tolist() == [5.0, 10.0, 15.0]


def test_bad_image_names_the_sample():
    preprocessor = RefinerDataPreprocessor()
    with pytest.raises(ValueError, match='b.jpg'):
        preprocessor(
            dict(
                inputs=[_image(4, 5), torch.zeros(1, 4, 5, dtype=torch.uint8)],
                data_samples=[_sample(4, 5, 'a.jpg'),
                              _sample(4, 5, 'b.jpg')]))


def test_bad_mean_std_raise():
    with pytest.raises(ValueError, match='std'):
        RefinerDataPreprocessor(std=(1.0, 0.0, 1.0))
