"""Coarse-mask synthesis: boundary modification, perturbation, the transform."""
import cv2
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import DefaultScope
from scipy import ndimage

from mmseg_refiner.datasets import generate_synthetic_sample
from mmseg_refiner.datasets.transforms import (GenerateCoarseMask, modify_boundary,
                                               perturb_to_iou, synthesize_coarse_mask)
from mmseg_refiner.datasets.transforms import coarse_mask as coarse_mask_module


def iou(mask, truth):
    return np.count_nonzero(mask & truth) / np.count_nonzero(mask | truth)


def nested_shapes():
    """A disc with a ring-shaped hole holding an island, a small hole, a
    one-pixel line and a rectangle with a slit."""
    mask = np.zeros((200, 220), np.uint8)
    cv2.circle(mask, (100, 100), 80, 1, -1)
    cv2.circle(mask, (100, 100), 40, 0, -1)
    cv2.circle(mask, (100, 100), 15, 1, -1)
    cv2.circle(mask, (60, 60), 5, 0, -1)
    cv2.line(mask, (10, 190), (210, 150), 1, 1)
    cv2.rectangle(mask, (150, 10), (210, 40), 1, -1)
    cv2.rectangle(mask, (170, 20), (171, 30), 0, -1)
    return mask


@pytest.fixture(scope='module')
def truths():
    """20 synthetic ground truths (holes, thin strokes) at 256x256."""
    return [generate_synthetic_sample(seed, (256, 256))['gt_mask'] for seed in range(20)]


def test_redrawing_every_vertex_reproduces_the_mask():
    mask = nested_shapes()
    redrawn = modify_boundary(mask, min_vertices=0, removal_rate=0, keep_rate=1)
    np.testing.assert_array_equal(redrawn, mask)


def test_fill_holes_keeps_outer_contours_only():
    mask = nested_shapes()
    redrawn = modify_boundary(mask, min_vertices=0, removal_rate=0, keep_rate=1, fill_holes=True)
    np.testing.assert_array_equal(redrawn, ndimage.binary_fill_holes(mask).astype(np.uint8))


def test_run_removal_starts_where_the_run_ends_are_closest():
    # 20 vertices on a line, except that vertex 7 comes back next to vertex 5:
    # with a run of int(20 * 0.1) = 2 vertices, the run from 5 (ends 5 and 7)
    # has by far the closest end points, and a 1/18 candidate rate leaves it
    # as the only candidate. Keeping every other vertex leaves the rest.
    points = np.stack([np.arange(20) * 10, np.zeros(20, int)], axis=1)
    points[7] = points[5] + (0, 1)
    polygon = coarse_mask_module._simplify_contour(
        points, np.random.default_rng(0), min_vertices=10, removal_rate=0.1,
        removal_candidate_rate=1 / 18, keep_rate=1.0)
    expected = np.delete(points, [5, 6], axis=0)
    np.testing.assert_array_equal(polygon[:, 0, :], expected)


def test_short_contours_are_dropped_and_tiny_masks_pass_through():
    mask = np.zeros((64, 64), np.uint8)
    mask[10:40, 10:40] = 1
    mask[50:52, 50:52] = 1  # a 4-vertex speck
    coarse = modify_boundary(mask, rng=np.random.default_rng(0))
    assert coarse[50:52, 50:52].sum() == 0
    assert coarse[10:40, 10:40].mean() > 0.5
    speck = np.zeros((64, 64), np.uint8)
    speck[5:7, 5:7] = 1
    np.testing.assert_array_equal(modify_boundary(speck), speck)


@pytest.mark.parametrize('dtype', [np.uint8, bool, np.float32])
def test_output_is_binary_and_same_size(dtype):
    truth = generate_synthetic_sample(3, (97, 131))['gt_mask']
    mask = truth.astype(dtype) * (255 if dtype == np.uint8 else 1)
    for function in (modify_boundary, perturb_to_iou, synthesize_coarse_mask):
        out = function(mask, rng=np.random.default_rng(1))
        assert out.shape == truth.shape and out.dtype == np.uint8
        assert set(np.unique(out)) <= {0, 1}


def test_boundary_modification_alone_changes_the_mask_moderately(truths):
    rng = np.random.default_rng(0)
    ious = [iou(modify_boundary(truth, rng=rng), truth) for truth in truths]
    assert 0.82 < np.mean(ious) < 0.97
    assert max(ious) < 1.0


@pytest.mark.parametrize('target', [0.8, 0.6])
def test_full_synthesis_ends_just_below_the_target_iou(truths, target):
    rng = np.random.default_rng(0)
    ious = np.array([iou(synthesize_coarse_mask(t, rng=rng, iou_target=target), t)
                     for t in truths])
    assert np.all(ious < target)
    assert target - 0.1 < ious.mean() < target


def test_perturbation_matches_the_straightforward_procedure(truths):
    """Same draws, CascadePSP's way (whole-rectangle copies, full IoU each
    round): the optimised implementation must give the identical mask."""

    def straightforward(mask, reference, rng, iou_target=0.8, max_rounds=250, ops_per_round=4):
        seg = mask.copy()
        height, width = seg.shape
        elements = coarse_mask_module._structuring_elements(3, 9)
        chunk = coarse_mask_module.ROUNDS_PER_DRAW
        for first_round in range(0, max_rounds, chunk):
            rounds = min(chunk, max_rounds - first_round)
            operations = coarse_mask_module._draw_operations(rng, rounds * ops_per_round, height,
                                                             width, 0.25, 0.5, (3, 9))
            for start in range(0, len(operations), ops_per_round):
                for x0, x1, y0, y1, seed, dilate, size, shape in \
                        operations[start:start + ops_per_round]:
                    if seed >= 0:
                        seg[(y0 + y1) // 2, (x0 + x1) // 2] = seed
                    morph = cv2.dilate if dilate else cv2.erode
                    seg[y0:y1, x0:x1] = morph(seg[y0:y1, x0:x1].copy(), elements[size][shape])
                if iou(seg, reference) < iou_target:
                    return seg
        return seg

    cases = truths[:6] + [generate_synthetic_sample(i, (75, 140))['gt_mask'] for i in range(4)]
    for index, truth in enumerate(cases):
        modified = modify_boundary(truth, rng=np.random.default_rng(index))
        fast = perturb_to_iou(modified, truth, rng=np.random.default_rng(100 + index))
        slow = straightforward(modified, truth, np.random.default_rng(100 + index))
        np.testing.assert_array_equal(fast, slow)


def test_holes_and_thin_parts_do_not_break_it():
    checkerboard = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.uint8)
    lines = np.zeros((64, 64), np.uint8)
    lines[::4] = 1
    for mask in (nested_shapes(), checkerboard, lines):
        out = synthesize_coarse_mask(mask, rng=np.random.default_rng(0))
        assert out.shape == mask.shape and set(np.unique(out)) <= {0, 1}


@pytest.mark.parametrize('shape', [(1, 1), (1, 40), (40, 1), (3, 3), (30, 30)])
def test_tiny_and_empty_masks(shape):
    empty = np.zeros(shape, np.uint8)
    np.testing.assert_array_equal(synthesize_coarse_mask(empty, rng=np.random.default_rng(0)),
                                  empty)
    np.testing.assert_array_equal(perturb_to_iou(empty, rng=np.random.default_rng(0)), empty)
    for mask in (np.ones(shape, np.uint8), np.pad(np.ones((1, 1), np.uint8),
                                                  [(0, s - 1) for s in shape])):
        out = synthesize_coarse_mask(mask, rng=np.random.default_rng(0))
        assert out.shape == shape and set(np.unique(out)) <= {0, 1}


def test_perturbation_of_an_empty_reference_is_empty():
    mask = np.ones((20, 20), np.uint8)
    out = perturb_to_iou(mask, np.zeros((20, 20), np.uint8), rng=np.random.default_rng(0))
    assert not out.any()


def test_deterministic_under_a_seed_and_different_across_seeds(truths):
    truth = truths[0]
    np.random.seed(7)
    first = synthesize_coarse_mask(truth)
    np.random.seed(7)
    again = synthesize_coarse_mask(truth)
    np.random.seed(8)
    other = synthesize_coarse_mask(truth)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    generated = [synthesize_coarse_mask(truth, rng=np.random.default_rng(s)) for s in (1, 1, 2)]
    np.testing.assert_array_equal(generated[0], generated[1])
    assert not np.array_equal(generated[0], generated[2])
    legacy = [synthesize_coarse_mask(truth, rng=np.random.RandomState(s)) for s in (3, 3)]
    np.testing.assert_array_equal(*legacy)


def test_input_is_not_modified(truths):
    truth = truths[1].copy()
    synthesize_coarse_mask(truth, rng=np.random.default_rng(0))
    perturb_to_iou(truth, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(truth, truths[1])


def test_bad_input_and_options():
    with pytest.raises(ValueError, match='HxW'):
        synthesize_coarse_mask(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match='differ in shape'):
        perturb_to_iou(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match='keep_rate'):
        GenerateCoarseMask(keep_rate=1.5)
    with pytest.raises(ValueError, match='kernel_size_range'):
        GenerateCoarseMask(kernel_size_range=(9, 3))
    with pytest.raises(ValueError, match='iou_target'):
        GenerateCoarseMask(iou_target=-0.1)


def test_transform_names_the_sample_in_errors():
    transform = GenerateCoarseMask()
    with pytest.raises(KeyError, match='img_42.png'):
        transform(dict(img_path='img_42.png'))
    with pytest.raises(ValueError, match='gt_mask of img_42.png'):
        transform(dict(img_path='img_42.png', gt_mask=np.zeros((4, 4, 3), np.uint8)))


def test_transform_in_a_compose_pipeline(truths):
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        pipeline = Compose([
            dict(type='GenerateCoarseMask', iou_target=0.7, key_out='coarse_mask'),
            dict(type='PackRefineInputs'),
        ])
    truth = truths[2]
    image = np.zeros(truth.shape + (3, ), np.uint8)
    np.random.seed(0)
    packed = pipeline(dict(img=image, gt_mask=truth, img_path='x.png'))
    coarse = packed['data_samples'].coarse_mask.data.numpy()[0]
    assert coarse.shape == truth.shape
    assert iou(coarse, truth) < 0.7
    np.random.seed(0)
    direct = synthesize_coarse_mask(truth, iou_target=0.7)
    np.testing.assert_array_equal(coarse, direct)
    assert 'iou_target=0.7' in repr(pipeline)
