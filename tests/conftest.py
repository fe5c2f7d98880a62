"""Fixtures shared by the whole test suite."""
import copy
import os
import os.path as osp
import pytest
import torch
from mmengine.registry import DefaultScope

from mmseg_refiner.models.utils.precision import AUTO_PRECISION_ENV
from mmseg_refiner.testing import REPO_ROOT

SHARED_DIR = osp.join(osp.dirname(REPO_ROOT), 'shared')

# Tests use tiny networks, for which one thread per process is fastest; the
# suite gets its parallelism from pytest-xdist workers instead. OMP_NUM_THREADS,
# when set, wins.
torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))

#: oneDNN runs bf16 natively on this CPU (AVX-512 BF16 / AMX): ``precision='auto'`` is bf16 here.
NATIVE_BF16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'native_bf16: runs only on a CPU with native bf16, where '
        "precision='auto' resolves to bf16 by itself")


def pytest_collection_modifyitems(config, items):
    if NATIVE_BF16:
        return
    skip = pytest.mark.skip(
        reason="this CPU has no native bf16 (oneDNN reports none: no AVX-512 BF16 / AMX), so "
        "precision='auto' is fp32 here; the tests taking the cpu_kind fixture run the bf16 "
        f'path emulated ({AUTO_PRECISION_ENV}=bf16)')
    for item in items:
        if 'native_bf16' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=['bf16', 'fp32'])
def cpu_kind(request, monkeypatch):
    """Run the test as if on each kind of CPU: ``precision='auto'`` resolves to
    ``'bf16'`` (a CPU with AVX-512 BF16 / AMX; emulated on one without) and to
    ``'fp32'`` (an AVX2-only CPU), through ``MMSEG_REFINER_AUTO_PRECISION``.

    A small subset of the suite takes it, so a developer on one kind of machine
    runs the other kind's ``auto`` path too. The whole suite runs as if on one
    kind with ``MMSEG_REFINER_AUTO_PRECISION=bf16`` (or ``fp32``) set.
    """
    monkeypatch.setenv(AUTO_PRECISION_ENV, request.param)
    return request.param


@pytest.fixture
def hardware_auto_precision(monkeypatch):
    """What ``'auto'`` resolves to on this CPU by itself (the override unset)."""
    monkeypatch.delenv(AUTO_PRECISION_ENV, raising=False)
    return 'bf16' if NATIVE_BF16 else 'fp32'


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
