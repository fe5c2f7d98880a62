"""Checks of settings, before any work starts (output paths: tests/test_fileio/test_outputs.py)."""
import numpy as np
import pytest
import torch

from mmseg_refiner.utils.checks import (MAX_SEED, UsageError, check_device, check_positive,
                                        check_seed)


def test_devices():
    assert check_device('cpu') == torch.device('cpu')
    with pytest.raises(UsageError, match="--device 'gpu' is not a device torch knows"):
        check_device('gpu')
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match='--device cuda: this machine has no cuda device'):
            check_device('cuda')
        with pytest.raises(UsageError, match='no cuda device'):
            check_device('cuda:1')


@pytest.mark.parametrize(
    'seed', [-1, MAX_SEED + 1, 2**64, 1.5, '3', True,
             np.bool_(True), np.float64(3)])
def test_bad_seeds(seed):
    with pytest.raises(UsageError, match='--seed'):
        check_seed(seed)


def test_good_seeds_and_positive():
    assert [check_seed(s) for s in (None, 0, MAX_SEED)] == [None, 0, MAX_SEED]
    seed = check_seed(np.int64(3))  # numpy integers are integers
    assert seed == 3 and type(seed) is int
    assert check_positive(3, '--batch-size') == 3
    for bad in (0, -2, 1.0):
        with pytest.raises(UsageError, match='--batch-size must be a positive integer'):
            check_positive(bad, '--batch-size')
