"""Every checkpoint read goes through the package's safe loader, on every route, whatever
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` says: MMEngine's ``load_checkpoint`` (the chains' part
checkpoints), the Runner's ``--resume`` (``work_dir/last_checkpoint``) and ``load_from``,
and URLs (served here from 127.0.0.1)."""
import functools
import http.server
import os
import os.path as osp
import pytest
import subprocess
import sys
import threading
import torch
from mmengine.runner import load_checkpoint

from mmseg_refiner.apis import init_refiner
from mmseg_refiner.testing import DEMO_CHECKPOINT, DEMO_CONFIG
from mmseg_refiner.testing import REPO_ROOT as REPO
from mmseg_refiner.testing import write_det_chain_config, write_tiny_coco
from mmseg_refiner.utils import UnsafeCheckpointError, load_checkpoint_file

UNSAFE_ENV = {'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1'}


class _Payload:
    """Unpickling this creates the marker file: foreign code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, 'w')


def _evil_checkpoint(folder, name='evil.pth'):
    """A checkpoint with real weights and a payload; ``(path, marker)``."""
    marker = folder / f'{name}.RAN'
    path = folder / name
    weights = load_checkpoint_file(DEMO_CHECKPOINT)
    torch.save(dict(state_dict=weights['state_dict'], meta=dict(hook=_Payload(marker))), path)
    return str(path), marker


@pytest.fixture
def unsafe_env(monkeypatch):
    for key, value in UNSAFE_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving ``tmp_path/served``; torch's cache in tmp_path."""
    served = tmp_path / 'served'
    served.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


def test_mmengine_load_checkpoint_is_the_safe_loader(tmp_path, unsafe_env):
    path, marker = _evil_checkpoint(tmp_path)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(torch.nn.Linear(1, 1), path, map_location='cpu')
    assert not marker.exists()


def test_storage_schemes_with_unsafe_loaders_are_refused():
    with pytest.raises(UnsafeCheckpointError, match='s3://bucket/x.pth'):
        load_checkpoint(torch.nn.Linear(1, 1), 's3://bucket/x.pth')


def test_url_checkpoints_load_on_every_route_and_unsafe_ones_are_refused(
        tmp_path, server, unsafe_env):
    served, url = server
    with open(DEMO_CHECKPOINT, 'rb') as src:
        (served / 'demo.pth').write_bytes(src.read())
    local = load_checkpoint_file(DEMO_CHECKPOINT)['state_dict']
    fetched = load_checkpoint_file(f'{url}/demo.pth')['state_dict']
    assert fetched.keys() == local.keys()
    assert all(torch.equal(fetched[k], local[k]) for k in local)
    assert osp.isfile(tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'demo.pth')  # cached
    model = init_refiner(DEMO_CONFIG, f'{url}/demo.pth')
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in local.items() if k in loaded)
    assert sum(k in loaded for k in local) > 10
    path, marker = _evil_checkpoint(served)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(torch.nn.Linear(1, 1), f'{url}/evil.pth')
    assert not marker.exists()
    with pytest.raises(OSError, match='missing.pth could not be downloaded'):
        load_checkpoint_file(f'{url}/missing.pth')


def _run_tool(args, **env):
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS='1', **env))
    return proc.returncode, proc.stdout + proc.stderr


def _one_error_line(log, *words):
    errors = [line for line in log.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1 and 'Traceback' not in log, log[-3000:]
    for word in words:
        assert word in errors[0], errors[0]


def test_auto_resume_of_a_foreign_last_checkpoint_runs_no_code(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    path, marker = _evil_checkpoint(work, 'iter_2.pth')
    (work / 'last_checkpoint').write_text(path)
    status, log = _run_tool([
        'tools/train.py', DEMO_CONFIG, '--work-dir',
        str(work), '--resume', '--cfg-options', 'train_cfg.max_iters=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False'
    ], **UNSAFE_ENV)
    assert status == 1
    _one_error_line(log, 'iter_2.pth', 'refused')
    assert not marker.exists()


def test_a_chains_foreign_part_checkpoint_runs_no_code(tmp_path):
    data = write_tiny_coco(str(tmp_path / 'coco'), num_images=1)
    path, marker = _evil_checkpoint(tmp_path, 'detector.pth')
    config = write_det_chain_config(str(tmp_path / 'chain.py'), data, detector_checkpoint=path)
    status, log = _run_tool(
        ['tools/test.py', config, DEMO_CHECKPOINT, '--work-dir',
         str(tmp_path / 'work')], **UNSAFE_ENV)
    assert status == 1
    _one_error_line(log, 'detector.pth', 'refused')
    assert not marker.exists()
