"""tools/test.py and tools/dist_test.sh: held-out evaluation of the demo model."""
import os
import re
import socket
import subprocess
import sys

import pytest

from .test_train import REPO, TINY_CONFIG

CHECKPOINT = os.path.join(REPO, 'demo', 'segrefiner_demo.pth')
OPTIONS = ['--cfg-options', 'test_dataloader.dataset.num_samples=6']


def _metrics(log):
    found = dict(re.findall(r'hr/(\w+): ([0-9.]+)', log))
    assert set(found) == {'iou', 'mba', 'coarse_iou', 'coarse_mba'}, log[-3000:]
    return {key: float(value) for key, value in found.items()}


def _run(args, **env):
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable, **env))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    return log


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def single_process_metrics(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('test_single')
    log = _run([sys.executable, 'tools/test.py', TINY_CONFIG, CHECKPOINT, '--work-dir',
                str(work_dir), *OPTIONS])
    return _metrics(log)


def test_demo_model_beats_coarse_on_held_out_samples(single_process_metrics):
    metrics = single_process_metrics
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert metrics['iou'] > metrics['coarse_iou']
    assert metrics['mba'] > metrics['coarse_mba']


def test_two_process_test_gives_the_same_figures(single_process_metrics, tmp_path):
    log = _run(['bash', 'tools/dist_test.sh', TINY_CONFIG, CHECKPOINT, '2', '--work-dir',
                str(tmp_path), *OPTIONS], PORT=str(_free_port()))
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    # Sampling is seeded per image, so splitting the set over processes changes nothing.
    assert _metrics(log) == pytest.approx(single_process_metrics, abs=1e-4)


def test_precision_is_a_cfg_option_logged_once(single_process_metrics, tmp_path):
    log = _run([sys.executable, 'tools/test.py', TINY_CONFIG, CHECKPOINT, '--work-dir',
                str(tmp_path), *OPTIONS, 'model.test_cfg.precision=fp32'])
    assert log.count('SegRefiner: the network runs in') == 1, log[-3000:]
    assert "runs in fp32 on cpu (test_cfg.precision='fp32')" in log
    # fp32 and the default ('auto': bf16 where the CPU runs it natively) agree closely
    assert _metrics(log) == pytest.approx(single_process_metrics, abs=0.01)
