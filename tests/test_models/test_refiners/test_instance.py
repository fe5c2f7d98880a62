"""InstanceRefiner: boxes, crop/resize/paste round trip, batching, the
SegRefiner dispatch, and a tiny real SegRefiner end to end."""
import copy
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData

from mmseg_refiner.models.refiners import InstanceRefiner
from mmseg_refiner.models.refiners.instance import expanded_mask_boxes
from mmseg_refiner.models.refiners.seeding import mask_seed
from mmseg_refiner.registry import MODELS
from mmseg_refiner.structures import RefineDataSample
from mmseg_refiner.testing import randomize_, tiny_segrefiner_cfg


class IdentityRefiner:
    """A 'network' that returns its input mask as the refined probability.

    Records the batch size, crop size and generator of every call.
    """

    def __init__(self, model_size: int = 256) -> None:
        self.model_size = model_size
        self.calls = []

    def refine(self, images, coarse, timesteps=None, cum_fine=None, generator=None):
        self.calls.append(dict(images=images, coarse=coarse, generator=generator))
        return dict(prob=coarse.clone(), cum_fine=torch.ones_like(coarse))


class ConstantRefiner(IdentityRefiner):
    """Refines every crop to 'all foreground'."""

    def refine(self, images, coarse, timesteps=None, cum_fine=None, generator=None):
        super().refine(images, coarse, timesteps, cum_fine, generator)
        return dict(prob=torch.ones_like(coarse), cum_fine=torch.ones_like(coarse))


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a & b).sum() / (a | b).sum()).item()


def _shapes(height: int, width: int):
    """Masks of many shapes and positions, several touching the borders."""
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing='ij')
    shapes = {
        'rectangle': (yy >= 40) & (yy < 90) & (xx >= 100) & (xx < 180),
        'ellipse': ((yy - 120) / 45.0)**2 + ((xx - 60) / 30.0)**2 <= 1,
        'ring':
        (((yy - 70)**2 + (xx - 220)**2) <= 40**2) & (((yy - 70)**2 + (xx - 220)**2) >= 20**2),
        'L-shape': ((yy >= 150) & (yy < 230) & (xx >= 150) &
                    (xx < 175)) | ((yy >= 205) & (yy < 230) & (xx >= 150) & (xx < 240)),
        'top-left corner': (yy < 35) & (xx < 50),
        'bottom-right corner': (yy >= height - 40) & (xx >= width - 30),
        'left border disc': ((yy - 200)**2 + xx**2) <= 35**2,
        'full width band': (yy >= 10) & (yy < 22),
        'whole image':
        torch.ones(height, width, dtype=torch.bool),
        'thin diagonal': (yy - xx).abs() <= 3,
    }
    return list(shapes), torch.stack(list(shapes.values()))


def test_expanded_mask_boxes_hand_computed():
    masks = torch.zeros(3, 10, 12, dtype=torch.bool)
    masks[0, 4:7, 5:9] = True  # rows 4..6, cols 5..8
    masks[1, 0:2, 10:12] = True  # top-right corner
    masks[2, 9, 0] = True  # one pixel, bottom-left
    boxes = expanded_mask_boxes(masks, padding=2)
    assert boxes.tolist() == [[3, 2, 11, 9], [8, 0, 12, 4], [0, 7, 3, 10]]
    assert expanded_mask_boxes(
        masks, padding=0).tolist() == [[5, 4, 9, 7], [10, 0, 12, 2], [0, 9, 1, 10]]


def test_identity_round_trip_many_shapes_and_borders():
    names, masks = _shapes(240, 320)
    image = torch.randn(3, 240, 320)
    refiner = IdentityRefiner(model_size=256)
    instance_refiner = InstanceRefiner(min_area=512)
    [refined] = instance_refiner.refine_masks(refiner, [image], [masks])
    assert refined.shape == masks.shape and refined.dtype == torch.bool
    areas = masks.flatten(1).sum(1)
    assert (areas >= 512).all(), 'every test shape must be refined'
    for name, coarse, out in zip(names, masks, refined):
        assert iou(out, coarse) > 0.98, name
    assert sum(call['images'].shape[0] for call in refiner.calls) == len(names)


@pytest.mark.parametrize('model_size', [64, 128])
def test_identity_round_trip_smaller_model_sizes(model_size):
    # Objects of a few hundred pixels on a side: the crop is downsampled by up to 4x.
    yy, xx = torch.meshgrid(torch.arange(200), torch.arange(300), indexing='ij')
    masks = torch.stack([((yy - 100) / 80.0)**2 + ((xx - 150) / 120.0)**2 <= 1,
                         (yy < 60) & (xx >= 240)])
    [refined] = InstanceRefiner().refine_masks(
        IdentityRefiner(model_size), [torch.zeros(3, 200, 300)], [masks])
    for coarse, out in zip(masks, refined):
        assert iou(out, coarse) > 0.98


def test_small_and_empty_instances_keep_coarse_mask_and_no_instances_work():
    masks = torch.zeros(3, 64, 64, dtype=torch.bool)
    masks[0, 10:20, 10:20] = True  # 100 px < min_area
    masks[2, 0:64, 0:16] = True  # 1024 px: refined
    refiner = ConstantRefiner(model_size=32)
    refined, none = InstanceRefiner(
        min_area=512, box_padding=4).refine_masks(
            refiner, [torch.zeros(3, 64, 64), torch.zeros(3, 30, 40)],
            [masks, torch.zeros(0, 30, 40, dtype=torch.bool)])
    assert torch.equal(refined[0], masks[0])
    assert not refined[1].any()
    # 'all foreground' pasted into the padded, clipped box x 0..20, y 0..64.
    expected = torch.zeros(64, 64, dtype=torch.bool)
    expected[:, :20] = True
    assert torch.equal(refined[2], expected)
    assert none.shape == (0, 30, 40)
    assert len(refiner.calls) == 1 and refiner.calls[0]['images'].shape == (1, 3, 32, 32)


def test_no_instance_at_all_makes_no_network_call():
    refiner = IdentityRefiner(32)
    out = InstanceRefiner().refine_masks(refiner, [torch.zeros(3, 8, 8)],
                                         [torch.zeros(0, 8, 8, dtype=torch.bool)])
    assert out[0].shape == (0, 8, 8) and refiner.calls == []


def test_crops_hold_the_box_content_resized_and_binary():
    # Image = x coordinate in every channel; the box of a mask spanning columns
    # 30..49 padded by 10 covers columns 20..59: the crop's columns, resized to
    # 16, sample that range linearly.
    image = torch.arange(100.).expand(3, 50, 100).clone()
    masks = torch.zeros(1, 50, 100, dtype=torch.bool)
    masks[0, 10:40, 30:50] = True
    refiner = IdentityRefiner(model_size=16)
    InstanceRefiner(min_area=1, box_padding=10).refine_masks(refiner, [image], [masks])
    crop = refiner.calls[0]['images'][0]
    expected_cols = 20 + (torch.arange(16) + 0.5) * 40 / 16 - 0.5
    assert torch.allclose(crop[0, 0], expected_cols, atol=1e-4)
    coarse = refiner.calls[0]['coarse']
    assert set(coarse.unique().tolist()) == {0.0, 1.0}
    # Columns 30..49 of 20..59 are the middle half of the crop.
    assert coarse[0, 0, 8, :].tolist() == [0.0] * 4 + [1.0] * 8 + [0.0] * 4


def test_instances_of_a_batch_share_network_calls_of_at_most_batch_size():
    masks_a = torch.zeros(5, 40, 40, dtype=torch.bool)
    masks_b = torch.zeros(3, 40, 40, dtype=torch.bool)
    for i in range(5):
        masks_a[i, i:i + 20, 5:30] = True
    for i in range(3):
        masks_b[i, 10:35, i:i + 20] = True
    refiner = IdentityRefiner(16)
    refined = InstanceRefiner(
        min_area=100, batch_size=3).refine_masks(
            refiner, [torch.zeros(3, 40, 40), torch.ones(3, 40, 40)], [masks_a, masks_b],
            seeds=[11, 12])
    assert [call['images'].shape[0] for call in refiner.calls] == [3, 3, 2]
    # The second call mixes images: crops 4, 5 of image a (zeros), crop 1 of image b (ones).
    assert refiner.calls[1]['images'].flatten(1).mean(1).tolist() == [0.0, 0.0, 1.0]
    # Each crop has its own generator, seeded from its image's seed and its index.
    seeds = [g.initial_seed() for call in refiner.calls for g in call['generator']]
    assert seeds == [mask_seed(11, k) for k in range(5)] + [mask_seed(12, k) for k in range(3)]
    assert [r.shape for r in refined] == [masks_a.shape, masks_b.shape]


def test_predict_replaces_masks_and_passes_boxes_labels_scores_through():
    masks = torch.zeros(2, 48, 64, dtype=torch.bool)
    masks[0, 5:40, 5:40] = True
    masks[1, 0:3, 0:3] = True
    bboxes = torch.tensor([[5., 5., 40., 40.], [0., 0., 3., 3.]])
    sample = DetDataSample(metainfo=dict(img_path='a.jpg', img_id=3))
    sample.pred_instances = InstanceData(
        masks=masks.numpy(),
        bboxes=bboxes.clone(),
        labels=torch.tensor([2, 7]),
        scores=torch.tensor([0.9, 0.3]))
    [out] = InstanceRefiner(
        min_area=512,
        box_padding=0).predict(ConstantRefiner(16), torch.zeros(1, 3, 48, 64), [sample])
    assert isinstance(out, DetDataSample) and out.img_id == 3
    pred = out.pred_instances
    assert pred.masks.dtype == torch.bool and pred.masks.shape == (2, 48, 64)
    assert torch.equal(pred.masks[0], masks[0])  # the box of a square is the square
    assert torch.equal(pred.masks[1], masks[1])  # 9 px: unchanged
    assert torch.equal(pred.bboxes, bboxes)
    assert pred.labels.tolist() == [2, 7] and pred.scores.tolist() == pytest.approx([0.9, 0.3])


def test_predict_seeds_each_instance_from_the_refiners_sample_seeds():

    class SeededRefiner(IdentityRefiner):

        def sample_seeds(self, data_samples):
            return [5] * len(data_samples)

    masks = torch.ones(2, 32, 32, dtype=torch.bool)
    sample = DetDataSample(pred_instances=InstanceData(masks=masks))
    refiner = SeededRefiner(16)
    InstanceRefiner(min_area=1).predict(refiner, [torch.zeros(3, 32, 32)], [sample])
    assert [g.initial_seed()
            for g in refiner.calls[0]['generator']] == [mask_seed(5, 0),
                                                        mask_seed(5, 1)]


def test_predict_refines_a_mask_samples_coarse_mask_as_its_one_instance():
    """A RefineDataSample (mask datasets) gets pred_mask, as in global-local mode, in a batch
    that also holds a detector's DetDataSample."""
    coarse = torch.zeros(1, 48, 64, dtype=torch.uint8)
    coarse[0, 10:30, 20:50] = 1
    mask_sample = RefineDataSample(metainfo=dict(img_path='m.png'))
    mask_sample.coarse_mask = PixelData(data=coarse)
    det_sample = DetDataSample(pred_instances=InstanceData(masks=coarse.bool().clone()))
    refiner = InstanceRefiner(min_area=1, box_padding=2)
    out_mask, out_det = refiner.predict(
        ConstantRefiner(16), torch.zeros(2, 3, 48, 64), [mask_sample, det_sample])
    expected = torch.zeros(1, 48, 64, dtype=torch.bool)
    expected[0, 8:32, 18:52] = True  # all foreground inside the box padded by 2
    assert out_mask.pred_mask.data.dtype == torch.bool
    assert torch.equal(out_mask.pred_mask.data, expected)
    assert torch.allclose(out_mask.pred_mask.prob, expected.float())  # bilinear: 1 +- 1 ulp
    assert torch.equal(out_det.pred_instances.masks, expected)
    assert 'pred_mask' not in out_det


def test_predict_errors_name_the_image():
    sample = DetDataSample(metainfo=dict(img_path='data/cat.jpg'))
    with pytest.raises(ValueError, match='data/cat.jpg has neither pred_instances.masks'):
        InstanceRefiner().predict(IdentityRefiner(), [torch.zeros(3, 8, 8)], [sample])
    sample.pred_instances = InstanceData(masks=torch.zeros(1, 8, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'masks of data/cat.jpg have shape \(1, 8, 9\)'):
        InstanceRefiner().predict(IdentityRefiner(), [torch.zeros(3, 8, 8)], [sample])


def test_config_values_are_checked():
    with pytest.raises(ValueError, match='batch_size'):
        InstanceRefiner(batch_size=0)
    refiner = MODELS.build(dict(type='InstanceRefiner', min_area=10, box_padding=3))
    assert (refiner.min_area, refiner.box_padding, refiner.batch_size) == (10, 3, 32)
    assert refiner.timesteps is None  # all steps


class StepsRecorder(IdentityRefiner):

    def refine(self, images, coarse, timesteps=None, cum_fine=None, generator=None):
        self.calls.append(timesteps)
        return dict(prob=coarse.clone(), cum_fine=torch.ones_like(coarse))


def test_timesteps_reach_every_network_batch():
    masks = torch.zeros(3, 64, 64, dtype=torch.bool)
    masks[:, 10:50, 10:50] = True
    recorder = StepsRecorder(model_size=32)
    refiner = MODELS.build(dict(type='InstanceRefiner', batch_size=2, timesteps=[5, 3, 0]))
    refiner.refine_masks(recorder, [torch.zeros(3, 64, 64)], [masks])
    assert recorder.calls == [(5, 3, 0), (5, 3, 0)]


def test_tiny_segrefiner_end_to_end_in_instance_mode():
    model = MODELS.build(tiny_segrefiner_cfg('instance', seed=0, min_area=100, batch_size=2)).eval()
    randomize_(model)
    rng = np.random.default_rng(0)

    def batch():
        samples, images = [], []
        for index, (h, w) in enumerate([(60, 80), (50, 50)]):
            masks = torch.zeros(3, h, w, dtype=torch.bool)
            masks[0, 5:30, 10:40] = True
            masks[1, 20:, 20:] = True
            masks[2, 0:5, 0:5] = True  # 25 px: kept
            sample = DetDataSample(metainfo=dict(img_path=f'{index}.jpg', ori_shape=(h, w)))
            sample.pred_instances = InstanceData(
                masks=masks, bboxes=torch.zeros(3, 4), labels=torch.arange(3), scores=torch.ones(3))
            samples.append(sample)
            images.append(torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8)))
        return dict(inputs=images, data_samples=samples)

    first = model.test_step(batch())
    rng = np.random.default_rng(0)
    second = model.test_step(batch())
    for out, again, (h, w) in zip(first, second, [(60, 80), (50, 50)]):
        masks = out.pred_instances.masks
        assert masks.shape == (3, h, w) and masks.dtype == torch.bool
        assert torch.equal(masks, again.pred_instances.masks)  # seeded: reproducible
        assert masks[2].sum() == 25 and masks[2, :5, :5].all()
        # Nothing outside the padded box of the first instance (rows 0..49, cols 0..59).
        assert not masks[0, 50:].any() and not masks[0, :, 60:].any()


@pytest.mark.parametrize('timesteps', [None, (5, 3, 0)])
def test_masks_do_not_depend_on_batch_size_or_on_the_other_images(timesteps, cpu_kind):
    """Batch size 1 and 4, one image or two, either order: the same refined masks,
    with all steps and with a respaced sub-sequence, in the default precision
    (``'auto'``) as it resolves on either kind of CPU."""
    rng = np.random.default_rng(1)

    def sample(name, h, w):
        masks = torch.zeros(3, h, w, dtype=torch.bool)
        masks[0, 5:30, 10:40] = True
        masks[1, 20:, 20:] = True
        masks[2, 2:25, 3:22] = True
        item = DetDataSample(metainfo=dict(img_path=f'data/{name}', ori_shape=(h, w)))
        item.pred_instances = InstanceData(
            masks=masks, bboxes=torch.zeros(3, 4), labels=torch.arange(3), scores=torch.ones(3))
        image = torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8))
        return image, item

    first, second = sample('a.jpg', 60, 80), sample('b.jpg', 50, 50)

    def run(batch_size, pairs):
        model = MODELS.build(
            tiny_segrefiner_cfg(
                'instance',
                seed=3,
                min_area=100,
                batch_size=batch_size,
                timesteps=timesteps,
                precision='auto')).eval()
        randomize_(model)
        data = dict(inputs=[p[0] for p in pairs], data_samples=[copy.deepcopy(p[1]) for p in pairs])
        return {out.img_path: out.pred_instances.masks for out in model.test_step(data)}

    reference = run(1, [first, second])
    for batch_size, pairs in [(4, [first, second]), (4, [second, first]), (2, [second])]:
        for name, masks in run(batch_size, pairs).items():
            assert torch.equal(masks, reference[name]), (batch_size, name)
    assert not torch.equal(reference['data/a.jpg'][0], first[1].pred_instances.masks[0])
