"""Fixtures shared by the whole test suite."""
import copy
import os
import os.path as osp

import pytest
import torch
from mmengine.registry import DefaultScope

from mmseg_refiner.testing import REPO_ROOT


SHARED_DIR = osp.join(osp.dirname(REPO_ROOT), 'shared')

# Tests use tiny networks, for which one thread per process is fastest; the
# suite gets its parallelism from pytest-xdist workers instead. OMP_NUM_THREADS,
# when set, wins.
torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))


@pytest.fixture(scope='module', autouse=True)
def restore_default_scope():
    """Undo a default scope a test module set (``init_detector``, ``init_model`` and the
    Inferencers set one for the whole process), as MMEngine's
    ``DefaultScope.overwrite_default_scope`` does: the next module in the same worker
    builds in the scope it would have alone."""
    instances = copy.copy(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = instances


@pytest.fixture(scope='session')
def shared_reference_dir():
    """``../shared/reference``, beside the checkout (present in CI).

    Skips the test with a reason when it is absent, as in a user's clone.
    """
    path = osp.join(SHARED_DIR, 'reference')
    if not osp.isdir(path):
        pytest.skip(f'{path} is absent: the shared reference files (published checkpoint keys, '
                    'U-Net parity fixture) sit beside the checkout only in CI and the team\'s '
                    'workspaces')
    return path


@pytest.fixture(scope='session')
def repo_root():
    """The repository's root folder (the package is installed from it in editable mode)."""
    return REPO_ROOT
