"""tools/analysis_tools/eval_mask_folders.py on mask folders in tmp_path."""
import cv2
import json
import numpy as np
import os.path as osp
import pytest
import subprocess
import sys

from mmseg_refiner.testing import registered_script


@pytest.fixture(scope='module')
def cli():
    with registered_script('tools/analysis_tools/eval_mask_folders.py') as module:
        yield module


def _left(shape, columns):
    """0/255 mask whose left ``columns`` columns are foreground."""
    mask = np.zeros(shape, np.uint8)
    mask[:, :columns] = 255
    return mask


def _write(folder, name, mask):
    folder.mkdir(exist_ok=True)
    cv2.imwrite(str(folder / name), mask)


@pytest.fixture
def big_like(tmp_path):
    """Two BIG-style images: predictions perfect, coarse masks one column too wide."""
    for key, shape in (('a', (300, 300)), ('b', (300, 300))):
        _write(tmp_path / 'gt', f'{key}_gt.png', _left(shape, 150))
        _write(tmp_path / 'pred', f'{key}_refine.png', _left(shape, 150))
        _write(tmp_path / 'coarse', f'{key}_seg.png', _left(shape, 151))
    return tmp_path


def _args(root, out, coarse=True):
    args = [
        '--gt',
        str(root / 'gt'), '--pred',
        str(root / 'pred'), '--out',
        str(out), '--gt-suffix', '_gt', '--pred-suffix', '_refine'
    ]
    if coarse:
        args += ['--coarse', str(root / 'coarse'), '--coarse-suffix', '_seg']
    return args


def test_writes_iou_and_mba_of_refined_and_coarse(cli, big_like, tmp_path, capsys):
    out = tmp_path / 'metrics.json'
    assert cli.main(_args(big_like, out)) == 0
    metrics = json.loads(out.read_text())
    assert metrics['iou'] == 1.0 and metrics['mba'] == 1.0
    assert metrics['coarse_iou'] == pytest.approx(150 / 151)
    assert metrics['coarse_mba'] == pytest.approx(0.5)  # see test_mask_metrics
    assert metrics['num_images'] == 2 and 'problems' not in metrics
    assert 'coarse_mba' in capsys.readouterr().out


def test_two_processes_give_the_same_figures(cli, big_like, tmp_path):
    one, two = tmp_path / 'one.json', tmp_path / 'two.json'
    assert cli.main(_args(big_like, one)) == 0
    assert cli.main(_args(big_like, two) + ['--nproc', '2']) == 0
    assert json.loads(one.read_text()) == json.loads(two.read_text())


def test_missing_and_mismatched_files_are_listed_and_fail(cli, big_like, tmp_path, capsys):
    _write(big_like / 'gt', 'c_gt.png', _left((300, 300), 150))  # no prediction
    _write(big_like / 'pred', 'b_refine.png', _left((300, 320), 150))  # wrong size
    out = tmp_path / 'metrics.json'
    assert cli.main(_args(big_like, out, coarse=False)) == 1
    err = capsys.readouterr().err
    assert 'without a prediction' in err and '  c\n' in err
    assert 'b_refine.png is 320x300' in err
    metrics = json.loads(out.read_text())
    assert metrics['num_images'] == 1  # only a
    assert metrics['problems']['missing_pred'] == ['c']
    assert len(metrics['problems']['unreadable_or_size_mismatch']) == 1
    assert 'coarse_iou' not in metrics


def test_missing_folder_is_an_error(cli, tmp_path, capsys):
    (tmp_path / 'pred').mkdir()
    code = cli.main([
        '--gt',
        str(tmp_path / 'nope'), '--pred',
        str(tmp_path / 'pred'), '--out',
        str(tmp_path / 'm.json')
    ])
    assert code == 1
    assert 'nope does not exist' in capsys.readouterr().err
    assert not (tmp_path / 'm.json').exists()


def test_runs_as_a_script(repo_root, big_like, tmp_path):
    out = tmp_path / 'script.json'
    script = osp.join(repo_root, 'tools', 'analysis_tools', 'eval_mask_folders.py')
    proc = subprocess.run([sys.executable, script, *_args(big_like, out)],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())['iou'] == 1.0
