"""Coarse-mask synthesis: boundary modification, perturbation, the transform."""
import cv2
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import DefaultScope
from scipy import ndimage

from mmseg_refiner.datasets import coarse_mask_synthesis as coarse_mask_module
from mmseg_refiner.datasets import generate_synthetic_sample
from mmseg_refiner.datasets.coarse_mask_synthesis import (CoarseMaskOptions, modify_boundary,
                                                          perturb_to_iou, synthesize_coarse_mask)
from mmseg_refiner.datasets.transforms import GenerateCoarseMask


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
    redrawn = modify_boundary(mask, CoarseMaskOptions(min_vertices=0, removal_rate=0, keep_rate=1))
    np.testing.assert_array_equal(redrawn, mask)


def test_fill_holes_keeps_outer_contours_only():
    mask = nested_shapes()
    redrawn = modify_boundary(
        mask, CoarseMaskOptions(min_vertices=0, removal_rate=0, keep_rate=1, fill_holes=True))
    np.testing.assert_array_equal(redrawn, ndimage.binary_fill_holes(mask).astype(np.uint8))


def test_run_removal_starts_where_the_run_ends_are_closest():
    # 20 vertices on a line, except that vertex 7 comes back next to vertex 5:
    # with a run of int(20 * 0.1) = 2 vertices, the run from 5 (ends 5 and 7)
    # has by far the closest end points, and a 1/18 candidate rate leaves it
    # as the only candidate. Keeping every other vertex leaves the rest.
    points = np.stack([np.arange(20) * 10, np.zeros(20, int)], axis=1)
    points[7] = points[5] + (0, 1)
    polygon = coarse_mask_module._simplify_contour(
        points,
        np.random.default_rng(0),
        min_vertices=10,
        removal_rate=0.1,
        removal_candidate_rate=1 / 18,
        keep_rate=1.0)
    expected = np.delete(points, [5, 6], axis=0)
    np.testing.assert_array_equal(polygon[:, 0, :], expected)


def test_number_of_run_start_candidates_is_rounded_up():
    # 21 vertices: runs of int(21 * 0.1) = 2, 19 possible starts, of which
    # 0.1 * 19 = 1.9 -> 2 (CascadePSP rounds up) are candidates: the runs from
    # 5 and from 12, whose end points are equally close and far closer than
    # any other run's. Both must occur over seeds.
    points = np.stack([np.arange(21) * 10, np.zeros(21, int)], axis=1)
    points[7] = points[5] + (0, 1)
    points[14] = points[12] + (0, 1)
    removed = set()
    for seed in range(20):
        polygon = coarse_mask_module._simplify_contour(
            points,
            np.random.default_rng(seed),
            min_vertices=10,
            removal_rate=0.1,
            removal_candidate_rate=0.1,
            keep_rate=1.0)
        kept = {tuple(point) for point in polygon[:, 0, :]}
        removed.add(tuple(i for i in range(21) if tuple(points[i]) not in kept))
    assert removed == {(5, 6), (12, 13)}


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


@pytest.mark.parametrize('target, margin', [(0.8, 0.03), (0.6, 0.005)])
def test_full_synthesis_ends_just_below_the_target_iou(truths, target, margin):
    """Below the target with the reference it is measured against: by default
    the boundary-modified mask (its draws come first from the same stream), or
    the ground truth."""
    to_modified, to_truth, to_truth_option = [], [], []
    for index, truth in enumerate(truths):
        modified = modify_boundary(truth, rng=np.random.default_rng(index))
        coarse = synthesize_coarse_mask(
            truth, CoarseMaskOptions(iou_target=target), rng=np.random.default_rng(index))
        to_modified.append(iou(coarse, modified))
        to_truth.append(iou(coarse, truth))
        option = synthesize_coarse_mask(
            truth,
            CoarseMaskOptions(iou_target=target, iou_reference='ground_truth'),
            rng=np.random.default_rng(index))
        to_truth_option.append(iou(option, truth))
    to_modified, to_truth, to_truth_option = map(np.array, (to_modified, to_truth, to_truth_option))
    assert np.all(to_modified < target) and target - 0.1 < to_modified.mean() < target
    assert np.all(to_truth_option < target) and target - 0.1 < to_truth_option.mean() < target
    # The boundary modification's own change comes on top of the target (here
    # 0.72 against 0.78 for 0.8; the perturbation dominates at 0.6).
    assert to_truth.mean() < to_truth_option.mean() - margin


def straightforward_perturbation(mask,
                                 reference,
                                 rng,
                                 iou_target=0.8,
                                 max_rounds=250,
                                 ops_per_round=4,
                                 seed_pixel_prob=0.25,
                                 dilate_prob=0.5,
                                 kernel_size_range=(3, 9)):
    """CascadePSP's procedure for the same draws: whole-rectangle copies and the
    full IoU with ``reference`` after every round. Returns the mask and the
    number of rounds run."""
    seg = mask.copy()
    height, width = seg.shape
    low, high = kernel_size_range
    elements = coarse_mask_module._structuring_elements(low, high)
    chunk = coarse_mask_module.ROUNDS_PER_DRAW
    rounds = 0
    for first_round in range(0, max_rounds, chunk):
        num_rounds = min(chunk, max_rounds - first_round)
        operations = coarse_mask_module._draw_operations(rng, num_rounds * ops_per_round, height,
                                                         width, seed_pixel_prob, dilate_prob,
                                                         (low, high))
        for start in range(0, len(operations), ops_per_round):
            for x0, x1, y0, y1, seed, dilate, size, shape in \
                    operations[start:start + ops_per_round]:
                if seed >= 0:
                    seg[(y0 + y1) // 2, (x0 + x1) // 2] = seed
                morph = cv2.dilate if dilate else cv2.erode
                seg[y0:y1, x0:x1] = morph(seg[y0:y1, x0:x1].copy(), elements[size][shape])
            rounds += 1
            if iou(seg, reference) < iou_target:
                return seg, rounds
    return seg, rounds


def test_perturbation_matches_the_straightforward_procedure(truths):
    """Same draws, either reference: the optimised implementation must give
    the identical mask."""
    cases = truths[:6] + [generate_synthetic_sample(i, (75, 140))['gt_mask'] for i in range(4)]
    for index, truth in enumerate(cases):
        modified = modify_boundary(truth, rng=np.random.default_rng(index))
        for reference in (truth, modified):
            fast = perturb_to_iou(modified, reference, rng=np.random.default_rng(100 + index))
            slow, _ = straightforward_perturbation(modified, reference,
                                                   np.random.default_rng(100 + index))
            np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize('iou_reference', ['boundary_modified', 'ground_truth'])
def test_synthesis_is_boundary_modification_then_perturbation(truths, iou_reference):
    """For the same random stream, the synthesis is modify_boundary followed by
    perturb_to_iou against the boundary-modified mask (the default) or the
    ground truth."""
    for index, truth in enumerate(truths[:5]):
        rng = np.random.default_rng(index)
        modified = modify_boundary(truth, rng=rng)
        reference = modified if iou_reference == 'boundary_modified' else truth
        staged = perturb_to_iou(modified, reference, rng=rng)
        synthesized = synthesize_coarse_mask(
            truth, CoarseMaskOptions(iou_reference=iou_reference), rng=np.random.default_rng(index))
        np.testing.assert_array_equal(synthesized, staged)
    np.testing.assert_array_equal(
        synthesize_coarse_mask(truths[0], rng=np.random.default_rng(0)),
        synthesize_coarse_mask(
            truths[0],
            CoarseMaskOptions(iou_reference='boundary_modified'),
            rng=np.random.default_rng(0)))


def test_stopping_rule_measures_the_iou_against_the_boundary_modified_mask():
    """A hand-made case where the two references stop at different rounds.

    Ground truth: a 60x60 square (3600 px) with a 34x34 hole (1156 px), area
    2444. The boundary modification fills the hole (outer contours, every
    vertex kept), so the perturbation starts from the full square, IoU
    2444 / 3600 = 0.679 with the ground truth. Only 3-px dilations: the mask
    only grows, by at most one pixel ring per operation.

    - Against the ground truth the IoU is 2444 / area <= 0.679 < 0.7 after any
      round, so the perturbation stops after round 1; four operations grow the
      square at most to 68x68, so its IoU with the square is still
      >= 3600 / 4624 = 0.779.
    - Against the boundary-modified square the IoU is 3600 / area, below 0.7
      only for area > 5143 (side > 71.7): six rings at least, so round 2 at
      the earliest; the same draws continue, so that mask contains the first.
    """
    truth = np.zeros((100, 100), np.uint8)
    truth[20:80, 20:80] = 1
    truth[33:67, 33:67] = 0
    square = truth.copy()
    square[33:67, 33:67] = 1
    options = dict(
        iou_target=0.7,
        fill_holes=True,
        min_vertices=0,
        removal_rate=0,
        keep_rate=1,
        seed_pixel_prob=0,
        dilate_prob=1,
        kernel_size_range=(3, 3))
    perturbation = {
        k: options[k]
        for k in ('iou_target', 'seed_pixel_prob', 'dilate_prob', 'kernel_size_range')
    }
    np.testing.assert_array_equal(
        modify_boundary(
            truth, CoarseMaskOptions(fill_holes=True, min_vertices=0, removal_rate=0, keep_rate=1)),
        square)

    by_truth = synthesize_coarse_mask(
        truth,
        CoarseMaskOptions(iou_reference='ground_truth', **options),
        rng=np.random.default_rng(0))
    by_modified = synthesize_coarse_mask(
        truth, CoarseMaskOptions(**options), rng=np.random.default_rng(0))

    assert iou(by_truth, truth) < 0.7 and iou(by_truth, square) >= 3600 / 68**2
    assert iou(by_modified, square) < 0.7
    assert np.all(by_truth >= square) and np.all(by_modified >= by_truth)
    assert np.count_nonzero(by_modified) > np.count_nonzero(by_truth)

    # The rounds, counted by the straightforward procedure on the same draws
    # (the boundary modification with these options draws the same numbers
    # either way).
    for reference, mask, expected_rounds in ((truth, by_truth, 1), (square, by_modified, None)):
        rng = np.random.default_rng(0)
        modify_boundary(
            truth,
            CoarseMaskOptions(fill_holes=True, min_vertices=0, removal_rate=0, keep_rate=1),
            rng=rng)
        slow, rounds = straightforward_perturbation(square, reference, rng, **perturbation)
        np.testing.assert_array_equal(mask, slow)
        if expected_rounds is None:
            assert rounds >= 2
        else:
            assert rounds == expected_rounds


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
    np.testing.assert_array_equal(
        synthesize_coarse_mask(empty, rng=np.random.default_rng(0)), empty)
    np.testing.assert_array_equal(perturb_to_iou(empty, rng=np.random.default_rng(0)), empty)
    for mask in (np.ones(shape,
                         np.uint8), np.pad(np.ones((1, 1), np.uint8), [(0, s - 1) for s in shape])):
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
    with pytest.raises(ValueError, match="iou_reference.*'gt'"):
        GenerateCoarseMask(iou_reference='gt')
    with pytest.raises(ValueError, match='iou_reference'):
        synthesize_coarse_mask(np.ones((4, 4)), CoarseMaskOptions(iou_reference='mask'))


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
    direct = synthesize_coarse_mask(truth, CoarseMaskOptions(iou_target=0.7))
    np.testing.assert_array_equal(coarse, direct)
    assert 'iou_target=0.7' in repr(pipeline)
    assert "iou_reference='boundary_modified'" in repr(pipeline)
