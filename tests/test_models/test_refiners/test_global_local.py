"""GlobalLocalRefiner: patch selection, merging, and HR refinement round trips."""
import copy
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from mmseg_refiner.models.refiners.global_local import GlobalLocalRefiner, PatchMerge, resize_region
from mmseg_refiner.registry import MODELS
from mmseg_refiner.structures import RefineDataSample
from mmseg_refiner.testing import randomize_, tiny_segrefiner_cfg


class EchoRefiner:
    """A 'network that returns its input mask', with SegRefiner's refine() contract.

    ``prob`` is the coarse mask; ``cum_fine`` is 1 except 0.5 on the mask's
    boundary (dilation minus erosion), so the local patches sit on the
    boundary. ``local_prob`` (if given) replaces ``prob`` in the local step
    (``timesteps == (0,)``). Every call is recorded.
    """

    def __init__(self, model_size=64, local_prob=None):
        self.model_size = model_size
        self.local_prob = local_prob
        self.calls = []

    def sample_seeds(self, data_samples):
        return [None] * len(data_samples)

    def refine(self,
               images,
               coarse,
               timesteps=None,
               cum_fine=None,
               generator=None,
               next_timestep=-1):
        size = (self.model_size, self.model_size)
        assert images.shape[1:] == (3, *size) and coarse.shape[1:] == (1, *size)
        assert set(coarse.unique().tolist()) <= {0.0, 1.0}
        self.calls.append(
            dict(
                images=images.clone(),
                coarse=coarse.clone(),
                timesteps=tuple(timesteps),
                next_timestep=next_timestep,
                cum_fine=cum_fine))
        edge = F.max_pool2d(coarse, 3, 1, 1) + F.max_pool2d(-coarse, 3, 1, 1)
        prob = coarse.clone()
        if self.local_prob is not None and tuple(timesteps) == (0, ):
            prob = torch.full_like(coarse, self.local_prob)
        return dict(prob=prob, cum_fine=1 - 0.5 * edge)


def iou(a, b):
    return float((a & b).sum()) / float((a | b).sum())


def blob_mask(h, w):
    """An ellipse, a rectangle touching the right and bottom borders, and a hole."""
    yy, xx = np.mgrid[:h, :w]
    mask = ((yy - 0.4 * h) / (0.3 * h))**2 + ((xx - 0.35 * w) / (0.25 * w))**2 <= 1
    mask |= (yy > 0.7 * h) & (xx > 0.6 * w)
    mask &= ~(((yy - 0.4 * h)**2 + (xx - 0.35 * w)**2) <= (0.05 * min(h, w))**2)
    return torch.from_numpy(mask)


@pytest.mark.parametrize('mode', ['nearest', 'bilinear'])
def test_resize_region_equals_cropped_interpolation(mode):
    small = torch.rand(2, 7, 9, generator=torch.Generator().manual_seed(0))
    full = F.interpolate(
        small[None], size=(23, 40), mode=mode,
        align_corners=False if mode == 'bilinear' else None)[0]
    for x1, y1, x2, y2 in [(0, 0, 40, 23), (5, 3, 17, 20), (39, 22, 40, 23), (0, 10, 1, 11)]:
        region = resize_region(small, (23, 40), (x1, y1, x2, y2), mode)
        torch.testing.assert_close(region, full[:, y1:y2, x1:x2], rtol=0, atol=1e-6)


def _hand_made_c():
    c = torch.ones(8, 8)
    c[1, 1] = 0.2
    c[1, 2] = 0.5
    c[6, 6] = 0.6
    c[3, 7] = 0.85
    c[4, 4] = 0.9
    return c


def test_select_patches_maps_centres_as_the_authors_evaluation():
    # 8x8 model-resolution c on an 800x800 image: model pixel i maps to the
    # full-resolution pixel floor(i * 800 / 8) = 100 i (the default, 'corner').
    # (1, 1) -> centre (100, 100) -> box shifted inside: (0, 0, 256, 256), score 0.8
    # (1, 2) -> centre (100, 200) -> box (72, 0, 328, 256): IoU 0.56 -> suppressed
    # (6, 6) -> centre (600, 600) -> box (472, 472, 728, 728), score 0.4
    # (3, 7) -> centre (300, 700) -> box (544, 172, 800, 428), score 0.15
    everywhere_mixed = torch.zeros(800, 800, dtype=torch.bool)
    everywhere_mixed[::2] = True
    boxes = GlobalLocalRefiner().select_patches(_hand_made_c(), (800, 800), everywhere_mixed)
    assert boxes.tolist() == [[0, 0, 256, 256], [472, 472, 728, 728], [544, 172, 800, 428]]
    with pytest.raises(ValueError, match='centre_mapping'):
        GlobalLocalRefiner(centre_mapping='middle')


def test_select_patches_on_hand_made_c_map_with_centred_mapping():
    # 8x8 model-resolution c on an 800x800 image: model pixel (i, j) covers
    # full-resolution pixels 100i..100i+99, its centre is 100i + 50.
    c = torch.ones(8, 8)
    c[1, 1] = 0.2  # centre (150, 150) -> box (22, 22, 278, 278), score 0.8
    c[1, 2] = 0.5  # box (122, 22, 378, 278): IoU 0.44 with the first -> suppressed
    c[6, 6] = 0.6  # centre (650, 650) -> box (522, 522, 778, 778), score 0.4
    c[3, 7] = 0.85  # centre (350, 750) -> shifted inside: (544, 222, 800, 478), score 0.15
    c[4, 4] = 0.9  # not < 0.9 * max(c): no patch
    refiner = GlobalLocalRefiner(centre_mapping='centre')
    everywhere_mixed = torch.zeros(800, 800, dtype=torch.bool)
    everywhere_mixed[::2] = True
    boxes = refiner.select_patches(c, (800, 800), everywhere_mixed)
    assert boxes.tolist() == [[22, 22, 278, 278], [522, 522, 778, 778], [544, 222, 800, 478]]

    mask = torch.zeros(800, 800, dtype=torch.bool)
    mask[100:200, 100:200] = True  # first box: mixed
    mask[500:, 500:] = True  # second box: all foreground; (4, 4)'s box would be mixed
    # third box (rows 222..477): all background
    assert refiner.select_patches(c, (800, 800), mask).tolist() == [[22, 22, 278, 278]]


def test_select_patches_clips_patches_to_small_images():
    c = torch.ones(4, 4)
    c[0, 0], c[3, 3] = 0.1, 0.3
    mask = torch.zeros(100, 300, dtype=torch.bool)
    mask[:, :150] = True
    boxes = GlobalLocalRefiner(centre_mapping='centre').select_patches(c, (100, 300), mask)
    # Height clipped to the image's 100 rows; both centres give 256-wide boxes
    # shifted inside the image, which overlap by 212/300 > 0.3: one is kept.
    assert boxes.tolist() == [[0, 0, 256, 100]]
    assert not GlobalLocalRefiner().select_patches(torch.ones(4, 4), (100, 300), mask).numel()


def test_patch_merge_averages_overlaps_and_keeps_global_elsewhere():
    global_prob = torch.full((6, 8), 0.2)
    global_prob[5, 7] = 0.9
    merge = PatchMerge(global_prob)
    merge.add(torch.full((4, 4), 1.0), (0, 0, 4, 4))  # rows 0..3, cols 0..3
    merge.add(torch.full((4, 4), 0.0), (2, 2, 6, 6))
    merge.add(torch.full((2, 2), 0.4), (3, 3, 5, 5))
    merged = merge.result()
    expected = global_prob.clone()
    expected[0:4, 0:4] = 1.0
    expected[2:6, 2:6] = 0.0
    expected[2:4, 2:4] = 0.5  # (1 + 0) / 2
    expected[3:5, 3:5] = 0.2  # (0 + 0.4) / 2 outside the first box...
    expected[3, 3] = (1.0 + 0.0 + 0.4) / 3  # ...and three patches here
    torch.testing.assert_close(merged, expected)
    assert global_prob[0, 0] == 0.2  # input untouched
    assert torch.equal(PatchMerge(global_prob).result(), global_prob)


@pytest.mark.parametrize(
    'shape, interpolation, prob_interpolation',
    [
        ((512, 512), 'nearest', 'nearest'),  # published setting, 2x
        ((600, 800), 'bilinear', 'bilinear'),
        ((700, 520), 'area', 'nearest'),
    ])
def test_echo_network_returns_the_coarse_mask(shape, interpolation, prob_interpolation):
    mask = blob_mask(*shape)
    image = torch.randn(3, *shape, generator=torch.Generator().manual_seed(0))
    echo = EchoRefiner(model_size=256)
    hr = GlobalLocalRefiner(interpolation=interpolation, prob_interpolation=prob_interpolation)
    refined, prob = hr.refine_mask(echo, image, mask)
    assert refined.shape == shape and refined.dtype == torch.bool
    assert prob.shape == shape and prob.dtype == torch.float32
    assert iou(refined, mask) > 0.99
    assert torch.equal(refined, prob >= 0.5)
    # What is lost is only the resampling of the global pass: the patches
    # give back the global mask they were given.
    global_mask = F.interpolate(
        echo.calls[0]['coarse'],
        size=shape,
        mode=prob_interpolation,
        align_corners=False if prob_interpolation == 'bilinear' else None)[0, 0] >= 0.5
    assert torch.equal(refined, global_mask)
    assert echo.calls[0]['timesteps'] == (5, 4, 3, 2, 1)
    assert echo.calls[0]['next_timestep'] == 0  # the global pass continues at the local step
    assert len(echo.calls) > 1 and all(call['timesteps'] == (0, ) for call in echo.calls[1:])
    assert all(call['next_timestep'] == -1 for call in echo.calls[1:])


def test_local_patches_get_full_resolution_crops_and_the_c_crop():
    shape = (600, 800)
    mask = blob_mask(*shape)
    image = torch.randn(3, *shape, generator=torch.Generator().manual_seed(1))
    echo = EchoRefiner(model_size=256)
    hr = GlobalLocalRefiner(batch_size=3)
    hr.refine_mask(echo, image, mask)
    global_call = echo.calls[0]
    c_small = 1 - 0.5 * (
        F.max_pool2d(global_call['coarse'], 3, 1, 1) +
        F.max_pool2d(-global_call['coarse'], 3, 1, 1))
    global_mask = F.interpolate(global_call['coarse'], size=shape)[0, 0] >= 0.5
    boxes = hr.select_patches(c_small[0], shape, global_mask)
    local = echo.calls[1:]
    assert [len(call['images']) for call in local
            ] == [3] * (len(boxes) // 3) + ([len(boxes) % 3] if len(boxes) % 3 else [])
    images = torch.cat([call['images'] for call in local])
    coarse = torch.cat([call['coarse'] for call in local])
    cum_fine = torch.cat([call['cum_fine'] for call in local])
    c_full = F.interpolate(c_small, size=shape)[0]
    for k, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        assert torch.equal(images[k], image[:, y1:y2, x1:x2])
        assert torch.equal(coarse[k, 0], global_mask[y1:y2, x1:x2].float())
        assert torch.equal(cum_fine[k], c_full[:, y1:y2, x1:x2])


def test_patches_replace_the_global_result_only_where_they_cover():
    shape = (500, 600)
    mask = blob_mask(*shape)
    image = torch.zeros(3, *shape)
    echo = EchoRefiner(model_size=100, local_prob=1.0)  # local step: all foreground
    hr = GlobalLocalRefiner()
    refined, prob = hr.refine_mask(echo, image, mask)
    global_call = echo.calls[0]
    global_mask = F.interpolate(global_call['coarse'], size=shape)[0, 0] >= 0.5
    c_small = 1 - 0.5 * (
        F.max_pool2d(global_call['coarse'], 3, 1, 1) +
        F.max_pool2d(-global_call['coarse'], 3, 1, 1))
    covered = torch.zeros(shape, dtype=torch.bool)
    for x1, y1, x2, y2 in hr.select_patches(c_small[0], shape, global_mask).tolist():
        covered[y1:y2, x1:x2] = True
    assert covered.any() and not covered.all()
    assert torch.equal(refined, global_mask | covered)
    assert torch.all(prob[covered] == 1.0)


def test_small_images_border_masks_and_full_masks():
    hr = GlobalLocalRefiner()
    # An image smaller than the 256 patch on both sides, mask touching 3 borders.
    mask = torch.zeros(90, 200, dtype=torch.bool)
    mask[:, 120:] = True
    mask[:40, :] = True
    echo = EchoRefiner(model_size=64)
    refined, prob = hr.refine_mask(echo, torch.randn(3, 90, 200), mask)
    assert refined.shape == (90, 200) and iou(refined, mask) > 0.95
    assert len(echo.calls) > 1  # local patches ran, resized to the model size
    # All foreground: nothing to refine locally, the mask stays full.
    echo = EchoRefiner(model_size=64)
    refined, prob = hr.refine_mask(echo, torch.randn(3, 300, 280), torch.ones(300, 280))
    assert refined.all() and len(echo.calls) == 1


def test_masks_with_few_pixels_are_returned_unchanged():
    mask = torch.zeros(300, 300, dtype=torch.bool)
    mask[10:18, 10:26] = True  # 128 pixels
    echo = EchoRefiner()
    refined, prob = GlobalLocalRefiner().refine_mask(echo, torch.zeros(3, 300, 300), mask)
    assert torch.equal(refined, mask) and torch.equal(prob, mask.float()) and not echo.calls
    mask[30, 30] = True
    GlobalLocalRefiner().refine_mask(echo, torch.zeros(3, 300, 300), mask)
    assert echo.calls


def test_image_at_model_size_round_trips_exactly():
    mask = blob_mask(64, 64)
    refined, _ = GlobalLocalRefiner().refine_mask(EchoRefiner(64), torch.zeros(3, 64, 64), mask)
    assert torch.equal(refined, mask)


def test_predict_writes_pred_mask_for_images_of_different_sizes():
    samples, images = [], []
    for index, shape in enumerate([(120, 90), (64, 200)]):
        sample = RefineDataSample(metainfo=dict(img_path=f'{index}.jpg'))
        sample.coarse_mask = PixelData(data=blob_mask(*shape)[None].to(torch.uint8))
        samples.append(sample)
        images.append(torch.randn(3, *shape))
    # Images smaller than the patch: the clipped patch is resampled to the
    # model size and back; bilinear resampling keeps the echo's mask.
    hr = GlobalLocalRefiner(interpolation='bilinear', prob_interpolation='bilinear')
    out = hr.predict(EchoRefiner(64), images, samples)
    for sample, image, shape in zip(out, images, [(120, 90), (64, 200)]):
        assert sample.pred_mask.data.shape == (1, *shape)
        assert sample.pred_mask.data.dtype == torch.bool
        assert sample.pred_mask.prob.shape == (1, *shape)
        assert iou(sample.pred_mask.data[0], blob_mask(*shape)) > 0.95
        mask, prob = hr.refine_mask(EchoRefiner(64), image, blob_mask(*shape))
        assert torch.equal(sample.pred_mask.data[0], mask)
        assert torch.equal(sample.pred_mask.prob[0], prob)

    bare = RefineDataSample(metainfo=dict(img_path='data/x.jpg'))
    with pytest.raises(ValueError, match='data/x.jpg has no coarse_mask'):
        GlobalLocalRefiner().predict(EchoRefiner(), [torch.zeros(3, 8, 8)], [bare])
    bare.coarse_mask = PixelData(data=torch.zeros(1, 8, 9, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r'coarse mask of data/x.jpg is \(8, 9\)'):
        GlobalLocalRefiner().predict(EchoRefiner(), [torch.zeros(3, 8, 8)], [bare])


def test_fewer_steps_split_between_global_and_local_passes():
    echo = EchoRefiner(model_size=64)
    hr = GlobalLocalRefiner(global_timesteps=(5, 3), local_timesteps=(0, ))
    hr.refine_mask(echo, torch.randn(3, 300, 300), blob_mask(300, 300))
    assert (echo.calls[0]['timesteps'], echo.calls[0]['next_timestep']) == ((5, 3), 0)
    assert len(echo.calls) > 1 and all(call['timesteps'] == (0, ) for call in echo.calls[1:])


@pytest.mark.parametrize('global_timesteps,local_timesteps', [((5, 3), (3, )), ((5, 1), (2, 0)),
                                                              ((3, 5), (0, )), ((5, ), (-1, ))])
def test_global_then_local_steps_must_decrease(global_timesteps, local_timesteps):
    with pytest.raises(
            ValueError, match=r'strictly decreasing|local_timesteps\[0\] must be an integer >= 0'):
        GlobalLocalRefiner(global_timesteps=global_timesteps, local_timesteps=local_timesteps)


def test_config_values_are_checked_and_built_from_config():
    with pytest.raises(ValueError, match='interpolation'):
        GlobalLocalRefiner(interpolation='lanczos')
    with pytest.raises(ValueError, match='prob_interpolation'):
        GlobalLocalRefiner(prob_interpolation='area')
    hr = MODELS.build(dict(type='GlobalLocalRefiner', patch_size=128, nms_iou_thr=0.5))
    assert (hr.patch_size, hr.nms_iou_thr, hr.batch_size, hr.global_timesteps) == (128, 0.5, 32,
                                                                                   (5, 4, 3, 2, 1))


def test_tiny_segrefiner_end_to_end_in_global_local_mode():
    model = MODELS.build(tiny_segrefiner_cfg('global_local', seed=0, patch_size=48)).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.2)

    def batch():
        samples, images = [], []
        rng = np.random.default_rng(0)
        for index, shape in enumerate([(100, 130), (70, 70)]):
            sample = RefineDataSample(metainfo=dict(img_path=f'{index}.jpg'))
            sample.coarse_mask = PixelData(data=blob_mask(*shape)[None].to(torch.uint8))
            samples.append(sample)
            images.append(torch.from_numpy(rng.integers(0, 256, (3, *shape), dtype=np.uint8)))
        return dict(inputs=images, data_samples=samples)

    first, second = model.test_step(batch()), model.test_step(batch())
    for out, again, shape in zip(first, second, [(100, 130), (70, 70)]):
        assert out.pred_mask.data.shape == (1, *shape)
        assert out.pred_mask.data.dtype == torch.bool
        prob = out.pred_mask.prob
        assert prob.dtype == torch.float32 and prob.min() >= 0 and prob.max() <= 1
        assert torch.equal(out.pred_mask.data, prob >= 0.5)
        assert torch.equal(prob, again.pred_mask.prob)  # seeded: reproducible


def test_global_local_masks_do_not_depend_on_batch_sizes_or_batch_mates():
    """Patch batch size 1 and 4, data batch of one or two, either order: the same masks."""
    rng = np.random.default_rng(0)
    shapes = {'a.jpg': (100, 130), 'b.jpg': (90, 120)}
    items = {}
    for name, shape in shapes.items():
        sample = RefineDataSample(metainfo=dict(img_path=f'data/{name}'))
        sample.coarse_mask = PixelData(data=blob_mask(*shape)[None].to(torch.uint8))
        items[name] = (torch.from_numpy(rng.integers(0, 256, (3, *shape), dtype=np.uint8)), sample)

    def run(batch_size, names, local_timesteps=(1, 0)):
        model = MODELS.build(
            tiny_segrefiner_cfg(
                'global_local',
                seed=4,
                patch_size=32,
                batch_size=batch_size,
                global_timesteps=(5, 4, 3, 2),
                local_timesteps=local_timesteps)).eval()
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for param in model.parameters():
                param.copy_(torch.randn(param.shape, generator=gen) * 0.2)
        data = dict(
            inputs=[items[n][0] for n in names], data_samples=[items[n][1].clone() for n in names])
        return {out.img_path: out.pred_mask for out in model.test_step(data)}

    # local_timesteps=(1, 0) makes the local step draw, so batching could matter
    reference = run(1, ['a.jpg', 'b.jpg'])
    for batch_size, names in [(4, ['a.jpg', 'b.jpg']), (4, ['b.jpg', 'a.jpg']), (3, ['b.jpg'])]:
        for path, pred in run(batch_size, names).items():
            assert torch.equal(pred.data, reference[path].data), (batch_size, path)
            # a network call on another batch may round differently in the last bits
            torch.testing.assert_close(pred.prob, reference[path].prob, rtol=0, atol=1e-6)


def _hr_samples():
    """Three images (one smaller than a patch) with a coarse mask each; the second's
    mask has too few pixels to refine."""
    rng = np.random.default_rng(2)
    shapes = [(96, 120), (80, 80), (20, 70)]
    images, samples = [], []
    for index, shape in enumerate(shapes):
        mask = blob_mask(*shape)
        if index == 1:
            mask = torch.zeros(shape, dtype=torch.bool)
            mask[10:15, 10:15] = True
        sample = RefineDataSample(metainfo=dict(img_path=f'data/{index}.png'))
        sample.coarse_mask = PixelData(data=mask[None].to(torch.uint8))
        images.append(torch.from_numpy(rng.integers(0, 256, (3, *shape), dtype=np.uint8)))
        samples.append(sample)
    return images, samples


def test_samples_share_network_batches_and_keep_their_own_results(cpu_kind):
    """Batch size 1 against 8, the samples alone or together, either order: the same
    masks byte for byte (probabilities to float rounding), in the default precision
    as it resolves on either kind of CPU; batched, the global passes share one network call and
    the patches of different samples share calls."""
    images, samples = _hr_samples()

    def run(batch_size, order):
        model = MODELS.build(
            tiny_segrefiner_cfg(
                'global_local',
                seed=5,
                min_fg_pixels=50,
                patch_size=24,
                batch_size=batch_size,
                precision='auto')).eval()
        randomize_(model)
        calls = []
        refine = model.refine

        def counting_refine(batch, *args, **kwargs):
            calls.append((kwargs.get('cum_fine') is not None, len(batch)))
            return refine(batch, *args, **kwargs)

        model.refine = counting_refine
        data = dict(
            inputs=[images[i] for i in order],
            data_samples=[copy.deepcopy(samples[i]) for i in order])
        results = {out.img_path: out.pred_mask for out in model.test_step(data)}
        return results, calls

    alone = {}
    for index in range(3):
        results, _ = run(1, [index])
        alone.update(results)
    singly, single_calls = run(1, [0, 1, 2])
    batched, batched_calls = run(8, [0, 1, 2])
    reversed_, _ = run(8, [2, 1, 0])
    for results in (singly, batched, reversed_):
        for name, pred in results.items():
            assert torch.equal(pred.data, alone[name].data), name
            # fp32 matrix products round differently with the number of rows (about 1e-7)
            torch.testing.assert_close(pred.prob, alone[name].prob, rtol=0, atol=1e-5)
    small = samples[1].coarse_mask.data.bool()
    assert torch.equal(batched['data/1.png'].data, small)  # too few pixels: unchanged
    assert not torch.equal(batched['data/0.png'].data, samples[0].coarse_mask.data.bool())
    # batch 1: a global call per refined sample, a local call per patch
    patches = sum(n for local, n in single_calls if local)
    assert [n for local, n in single_calls if not local] == [1, 1] and patches > 2
    assert all(n == 1 for _, n in single_calls)
    # batch 8: one global call for both samples, patches of both in full calls
    assert [n for local, n in batched_calls if not local] == [2]
    local_sizes = [n for local, n in batched_calls if local]
    assert sum(local_sizes) == patches and len(local_sizes) == -(-patches // 8)
