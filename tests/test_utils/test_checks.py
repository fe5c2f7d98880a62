"""Checks of settings and output paths, before any work starts."""
import os

import pytest
import torch

from mmseg_refiner.utils.checks import (MAX_SEED, check_device, check_output_file,
                                        check_output_folder, check_positive, check_seed)
from mmseg_refiner.utils.checks import UsageError


def test_devices():
    assert check_device('cpu') == torch.device('cpu')
    with pytest.raises(UsageError, match="--device 'gpu' is not a device torch knows"):
        check_device('gpu')
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match='--device cuda: this machine has no cuda device'):
            check_device('cuda')
        with pytest.raises(UsageError, match='no cuda device'):
            check_device('cuda:1')


@pytest.mark.parametrize('seed', [-1, MAX_SEED + 1, 2**64, 1.5, '3', True])
def test_bad_seeds(seed):
    with pytest.raises(UsageError, match='--seed'):
        check_seed(seed)


def test_good_seeds_and_positive():
    assert [check_seed(s) for s in (None, 0, MAX_SEED)] == [None, 0, MAX_SEED]
    assert check_positive(3, '--batch-size') == 3
    for bad in (0, -2, 1.0):
        with pytest.raises(UsageError, match='--batch-size must be a positive integer'):
            check_positive(bad, '--batch-size')


def test_output_file(tmp_path):
    source = tmp_path / 'in.json'
    source.write_text('[]')
    assert check_output_file(tmp_path / 'new' / 'out.json', [source])
    with pytest.raises(UsageError, match='is an existing directory; give a file name'):
        check_output_file(tmp_path, [source])
    with pytest.raises(UsageError, match=r'its parent .*in.json is a file, not a folder'):
        check_output_file(source / 'deeper' / 'out.json')
    with pytest.raises(UsageError, match='is the input'):
        check_output_file(source, [source])
    link = tmp_path / 'link.json'
    os.symlink(source, link)
    with pytest.raises(UsageError, match='is the input'):
        check_output_file(link, [source])


def test_output_folder(tmp_path):
    images, masks = tmp_path / 'data' / 'img', tmp_path / 'data' / 'mask'
    images.mkdir(parents=True)
    masks.mkdir()
    assert check_output_folder(tmp_path / 'out', [images, masks])
    for out, relation in ((images, 'is'), (masks / 'refined', 'lies inside'),
                          (tmp_path / 'data', 'contains')):
        with pytest.raises(UsageError, match=f'{relation} the input folder'):
            check_output_folder(out, [images, masks])
    (tmp_path / 'file').write_text('x')
    with pytest.raises(UsageError, match='is an existing file, not a folder'):
        check_output_folder(tmp_path / 'file', [images])
