"""Refinement confidence: per pixel |2p - 1|, per mask its mean in the boundary band."""
import pytest
import torch

from mmseg_refiner.models.refiners import InstanceRefiner
from mmseg_refiner.models.refiners.confidence import (boundary_band, pixel_confidence,
                                                      refinement_confidence)


def test_pixel_confidence_hand_computed():
    prob = torch.tensor([0.0, 0.25, 0.5, 0.9, 1.0])
    assert pixel_confidence(prob).tolist() == pytest.approx([1.0, 0.5, 0.0, 0.8, 1.0], abs=1e-6)


def test_boundary_band_hand_computed():
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1]], dtype=torch.bool)
    assert boundary_band(mask, 1).int().tolist() == [[0, 0, 1, 1, 0, 0, 0, 0]]
    assert boundary_band(mask, 2).int().tolist() == [[0, 1, 1, 1, 1, 0, 0, 0]]
    assert not boundary_band(torch.ones(3, 3, dtype=torch.bool), 1).any()  # the border is none


def test_refinement_confidence_is_the_band_mean():
    prob = torch.tensor([[0.0, 0.0, 0.1, 0.6, 1.0, 1.0, 1.0, 1.0]])
    # band of width 1: pixels 2 and 3, confidences 0.8 and 0.2
    assert abs(refinement_confidence(prob, 0.5, 1).item() - 0.5) < 1e-6
    # no boundary: the mean over all pixels
    flat = torch.tensor([[0.1, 0.2, 0.3, 0.4]])
    assert abs(refinement_confidence(flat, 0.5, 1).item() - 0.5) < 1e-6


class HalfSureModel:
    """Returns 0.75 inside the coarse crop and 0 outside: confidence 0.5 inside, 1 outside."""

    model_size = 32
    test_cfg = {}

    def sample_seeds(self, data_samples):
        return [None] * len(data_samples)

    def refine(self, images, coarse, timesteps=None, cum_fine=None, generator=None):
        return dict(prob=coarse * 0.75, cum_fine=torch.ones_like(coarse))


def test_instance_scores_and_the_detector_field():
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    masks = torch.zeros(2, 64, 64, dtype=torch.bool)
    masks[0, 10:22, 10:22] = True  # its box, padded by 10 and clipped, is 32 x 32: no resize
    masks[1, 50:52, 50:52] = True  # 4 pixels < min_area: kept coarse
    image = torch.zeros(3, 64, 64)
    refiner = InstanceRefiner(min_area=16, box_padding=10)
    refined, scores = refiner.refine_masks(HalfSureModel(), [image], [masks], return_scores=True)
    # band of 3 px: 12x12 - 6x6 = 108 pixels inside (confidence 0.5), 18x18 - 12x12 = 180
    # outside (confidence 1)
    assert abs(scores[0][0].item() - (108 * 0.5 + 180) / 288) < 1e-6
    assert scores[0][1].item() == 1.0  # kept coarse: its 0/1 mask
    sample = DetDataSample(metainfo=dict(img_path='x.png'))
    sample.pred_instances = InstanceData(
        masks=masks, scores=torch.tensor([0.9, 0.3]), labels=torch.tensor([1, 2]))
    [out] = refiner.predict(HalfSureModel(), [image], [sample])
    assert torch.equal(out.pred_instances.refine_scores, scores[0])
    assert torch.equal(out.pred_instances.scores, torch.tensor([0.9, 0.3]))  # untouched


def test_detector_instances_get_their_probability_maps_on_request():
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    masks = torch.zeros(1, 64, 64, dtype=torch.bool)
    masks[0, 10:22, 10:22] = True
    image = torch.zeros(3, 64, 64)

    def sample():
        out = DetDataSample(metainfo=dict(img_path='x.png'))
        out.pred_instances = InstanceData(masks=masks, scores=torch.tensor([0.9]))
        return out

    [plain] = InstanceRefiner(
        min_area=16, box_padding=10).predict(HalfSureModel(), [image], [sample()])
    assert 'mask_probs' not in plain.pred_instances
    [kept] = InstanceRefiner(
        min_area=16, box_padding=10, keep_probs=True).predict(HalfSureModel(), [image], [sample()])
    expected = torch.zeros(1, 64, 64)
    expected[0, 10:22, 10:22] = 0.75  # the box is 32 px, the model's size: no resampling
    assert torch.equal(kept.pred_instances.mask_probs, expected)
    assert torch.equal(kept.pred_instances.masks, plain.pred_instances.masks)
