"""Masks per second of the coarse-mask synthesis on one CPU core.

Ground-truth masks come from the synthetic set (objects with holes and thin
parts, generated before timing). For every size, each mask is synthesised once
with the default options (``--iou-target`` aside); the script prints masks per
second (from CPU time) for the whole synthesis and for each stage, and the IoU
reached. OpenCV runs single-threaded; run with ``OMP_NUM_THREADS=1`` as well.
Example:
    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_coarse_mask.py
    python tools/analysis_tools/benchmark_coarse_mask.py --sizes 512 --num-masks 50
"""
import argparse
import sys
import time
from functools import partial
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np

from mmseg_refiner.datasets.synthetic import EVAL_SEED_OFFSET, generate_synthetic_sample
from mmseg_refiner.datasets.transforms.coarse_mask import (modify_boundary, perturb_to_iou,
                                                          synthesize_coarse_mask)
from mmseg_refiner.utils.cli import cli_main


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Time coarse-mask synthesis on one core.')
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 2048],
                        help='square mask sides to time')
    parser.add_argument('--num-masks', type=int, nargs='+', default=[200, 10],
                        help='masks per size (one value for all sizes, or one per size)')
    parser.add_argument('--iou-target', type=float, default=0.8)
    parser.add_argument('--seed', type=int, default=0, help='numpy global seed')
    return parser.parse_args(argv)


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    union = np.count_nonzero(mask | truth)
    return np.count_nonzero(mask & truth) / union if union else 1.0


def time_calls(function: Callable[..., np.ndarray],
               arguments: List[tuple]) -> Tuple[float, List[np.ndarray]]:
    """CPU seconds per call of ``function`` over ``arguments``, and its outputs.

    CPU time of this process: with one thread it is the time on one core, and
    unlike wall time it does not grow when other jobs share the machine.
    """
    start = time.process_time()
    outputs = [function(*args) for args in arguments]
    return (time.process_time() - start) / len(arguments), outputs


def benchmark_size(size: int, num_masks: int, iou_target: float, seed: int) -> None:
    truths = [
        generate_synthetic_sample(EVAL_SEED_OFFSET + index, (size, size))['gt_mask']
        for index in range(num_masks)
    ]
    synthesize = partial(synthesize_coarse_mask, iou_target=iou_target)
    np.random.seed(seed)
    synthesize(truths[0])  # warm-up (structuring element cache)

    np.random.seed(seed)
    wall_start = time.perf_counter()
    total, coarse = time_calls(synthesize, [(truth, ) for truth in truths])
    wall = (time.perf_counter() - wall_start) / num_masks
    np.random.seed(seed)
    boundary, modified = time_calls(modify_boundary, [(truth, ) for truth in truths])
    np.random.seed(seed)
    perturb, _ = time_calls(
        partial(perturb_to_iou, iou_target=iou_target), list(zip(modified, truths)))

    ious = np.array([iou(mask, truth) for mask, truth in zip(coarse, truths)])
    boundary_ious = np.array([iou(mask, truth) for mask, truth in zip(modified, truths)])
    print(f'{size}x{size}: {1 / total:8.1f} masks/s ({1000 * total:.2f} CPU ms/mask, '
          f'{1000 * wall:.2f} wall ms/mask, {num_masks} masks) | boundary modification '
          f'{1 / boundary:.1f} masks/s, perturbation {1 / perturb:.1f} masks/s')
    print(f'    IoU with the ground truth: after boundary modification '
          f'{boundary_ious.mean():.3f}; final mean {ious.mean():.3f} (min {ious.min():.3f}, '
          f'max {ious.max():.3f}), below the {iou_target} target: '
          f'{np.mean(ious < iou_target):.0%}')


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if len(args.num_masks) not in (1, len(args.sizes)):
        raise SystemExit('--num-masks takes one value or one per size')
    counts = args.num_masks * len(args.sizes) if len(args.num_masks) == 1 else args.num_masks
    cv2.setNumThreads(1)
    for size, count in zip(args.sizes, counts):
        benchmark_size(size, count, args.iou_target, args.seed)


if __name__ == '__main__':
    sys.exit(main())
