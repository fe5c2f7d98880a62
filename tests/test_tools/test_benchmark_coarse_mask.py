"""tools/analysis_tools/benchmark_coarse_mask.py: its IoU figures and its errors."""

import numpy as np
import pytest

from mmseg_refiner.datasets.coarse_mask_synthesis import (CoarseMaskOptions, modify_boundary,
                                                          synthesize_coarse_mask)
from mmseg_refiner.datasets.synthetic import EVAL_SEED_OFFSET, generate_synthetic_sample
from mmseg_refiner.testing import load_script


@pytest.fixture(scope='module')
def benchmark():
    return load_script('tools/analysis_tools/benchmark_coarse_mask.py')


def iou(mask, truth):
    return np.count_nonzero(mask & truth) / np.count_nonzero(mask | truth)


def test_prints_the_iou_to_the_ground_truth_and_to_the_boundary_modified_mask(benchmark, capsys):
    benchmark.main(['--sizes', '64', '--num-masks', '6', '--iou-target', '0.7', '--seed', '3'])
    rows = {
        line.split()[0]: line.split()
        for line in capsys.readouterr().out.splitlines()
        if line.split() and line.split()[0] in ('boundary_modified', 'ground_truth')
    }
    assert set(rows) == {'boundary_modified', 'ground_truth'}

    # The same masks, made here: the numpy global seed, then one synthesis per
    # ground truth in order.
    truths = [
        generate_synthetic_sample(EVAL_SEED_OFFSET + i, (64, 64))['gt_mask'] for i in range(6)
    ]
    for name, row in rows.items():
        np.random.seed(3)
        to_truth, to_modified = [], []
        for truth in truths:
            before = np.random.get_state()
            coarse = synthesize_coarse_mask(truth,
                                            CoarseMaskOptions(iou_target=0.7, iou_reference=name))
            after = np.random.get_state()
            np.random.set_state(before)  # the synthesis draws the boundary's numbers first
            modified = modify_boundary(truth)
            np.random.set_state(after)
            to_truth.append(iou(coarse, truth))
            to_modified.append(iou(coarse, modified))
        bar = row.index('|')
        assert float(row[bar + 1]) == pytest.approx(np.mean(to_truth), abs=1e-4)
        assert float(row[bar + 4]) == pytest.approx(np.mean(to_modified), abs=1e-4)


def test_bad_arguments_are_refused(benchmark, capsys):
    assert benchmark.main(['--sizes', '64', '128', '--num-masks', '1', '2', '3']) == 2
    assert '--num-masks takes one value or one per size' in capsys.readouterr().err
    assert benchmark.main(['--iou-target', '1.5']) == 2
    assert '--iou-target must lie in [0, 1]' in capsys.readouterr().err
