"""Speed and coarseness of the coarse-mask synthesis, on one CPU core.

Ground-truth masks come from the synthetic set (objects with holes and thin
parts, generated before timing). For every size, each mask is synthesised once
with the default options (``--iou-target`` aside) for each way of measuring the
perturbation's stopping IoU, side by side: against the boundary-modified mask
(the default, as the reference code does) and against the ground truth (the
option). Printed per row: masks per second (from CPU time) of the whole
synthesis and of each stage, and the mean IoU of the coarse masks with the
ground truth and with the boundary-modified mask they were perturbed from.
Every row starts from the same numpy global seed, so both rows see the same
boundary modifications. OpenCV runs single-threaded; run with
``OMP_NUM_THREADS=1`` as well. Example:
    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_coarse_mask.py
    python tools/analysis_tools/benchmark_coarse_mask.py --sizes 512 --num-masks 50
"""
import argparse
import cv2
import numpy as np
import sys
import time
from functools import partial
from typing import List, Optional

from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.datasets.coarse_mask_synthesis import (IOU_REFERENCES, CoarseMaskOptions,
                                                          modify_boundary, perturb_to_iou,
                                                          synthesize_coarse_mask)
from mmseg_refiner.datasets.synthetic import EVAL_SEED_OFFSET, generate_synthetic_sample
from mmseg_refiner.utils.checks import check_common_args


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Time coarse-mask synthesis on one core.')
    parser.add_argument(
        '--sizes', type=int, nargs='+', default=[256, 2048], help='square mask sides to time')
    parser.add_argument(
        '--num-masks',
        type=int,
        nargs='+',
        default=[200, 10],
        help='masks per size (one value for all sizes, or one per size)')
    parser.add_argument('--iou-target', type=float, default=0.8)
    parser.add_argument('--seed', type=int, default=0, help='numpy global seed')
    args = parser.parse_args(argv)
    if len(args.num_masks) not in (1, len(args.sizes)):
        parser.error('--num-masks takes one value or one per size')
    if min(args.sizes) < 1 or min(args.num_masks) < 1:
        parser.error('--sizes and --num-masks must be positive')
    if not 0 <= args.iou_target <= 1:
        parser.error('--iou-target must lie in [0, 1]')
    return args


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    union = np.count_nonzero(mask | truth)
    return np.count_nonzero(mask & truth) / union if union else 1.0


def benchmark_reference(truths: List[np.ndarray], iou_target: float, iou_reference: str,
                        seed: int) -> dict:
    """Time one way of measuring the stopping IoU; return speeds and IoUs.

    The synthesis runs twice from the same seed: whole, and stage by stage
    (:func:`modify_boundary`, then :func:`perturb_to_iou` against the chosen
    reference, each timed), which draws the same numbers in the same order and
    must give the same masks; the stage-by-stage run provides the
    boundary-modified mask of every coarse mask.
    """
    options = CoarseMaskOptions(iou_target=iou_target, iou_reference=iou_reference)
    synthesize = partial(synthesize_coarse_mask, options=options)
    np.random.seed(seed)
    start = time.process_time()
    coarse = [synthesize(truth) for truth in truths]
    total = (time.process_time() - start) / len(truths)

    np.random.seed(seed)
    boundary = perturb = 0.0
    modified = []
    for truth, expected in zip(truths, coarse):
        start = time.process_time()
        boundary_mask = modify_boundary(truth)
        middle = time.process_time()
        reference = boundary_mask if iou_reference == 'boundary_modified' else truth
        staged = perturb_to_iou(boundary_mask, reference, options)
        perturb += time.process_time() - middle
        boundary += middle - start
        if not np.array_equal(staged, expected):
            sys.exit('error: the stage-by-stage synthesis differs from the whole synthesis')
        modified.append(boundary_mask)
    to_truth = np.array([iou(mask, truth) for mask, truth in zip(coarse, truths)])
    return dict(
        total=total,
        boundary=boundary / len(truths),
        perturb=perturb / len(truths),
        to_truth=to_truth,
        to_modified=np.array([iou(mask, start) for mask, start in zip(coarse, modified)]),
        modified_to_truth=np.array([iou(start, truth) for start, truth in zip(modified, truths)]))


def benchmark_size(size: int, num_masks: int, iou_target: float, seed: int) -> None:
    truths = [
        generate_synthetic_sample(EVAL_SEED_OFFSET + index, (size, size))['gt_mask']
        for index in range(num_masks)
    ]
    synthesize_coarse_mask(truths[0], rng=np.random.default_rng(0))  # warm-up (element cache)
    print(f'{size}x{size}, {num_masks} masks, IoU target {iou_target}:')
    print(f'  {"stopping IoU against":22s} {"masks/s":>8s} {"CPU ms":>8s} {"boundary/s":>10s} '
          f'{"perturb/s":>9s} | {"IoU to GT":>9s} {"(min":>6s} {"max)":>6s} '
          f'{"IoU to modified":>15s} {"below target":>12s}')
    for iou_reference in IOU_REFERENCES:
        figures = benchmark_reference(truths, iou_target, iou_reference, seed)
        to_truth, to_modified = figures['to_truth'], figures['to_modified']
        stop_iou = to_modified if iou_reference == 'boundary_modified' else to_truth
        print(f'  {iou_reference:22s} {1 / figures["total"]:8.1f} {1000 * figures["total"]:8.2f} '
              f'{1 / figures["boundary"]:10.1f} {1 / figures["perturb"]:9.1f} | '
              f'{to_truth.mean():9.4f} {to_truth.min():6.3f} {to_truth.max():6.3f} '
              f'{to_modified.mean():15.4f} {np.mean(stop_iou < iou_target):12.0%}')
    print(f'  boundary modification alone: mean IoU to GT '
          f'{figures["modified_to_truth"].mean():.4f}')


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_common_args(args)
    counts = args.num_masks * len(args.sizes) if len(args.num_masks) == 1 else args.num_masks
    cv2.setNumThreads(1)
    for size, count in zip(args.sizes, counts):
        benchmark_size(size, count, args.iou_target, args.seed)


if __name__ == '__main__':
    sys.exit(main())
