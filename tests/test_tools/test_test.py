"""tools/test.py and tools/dist_test.sh: held-out evaluation of the demo model."""
import os
import pytest
import re
import subprocess
import sys

from mmseg_refiner.testing import REPO_ROOT, free_port, load_script, run_in_repo
from .test_train import TINY_CONFIG

CHECKPOINT = os.path.join(REPO_ROOT, 'demo', 'segrefiner_demo.pth')
OPTIONS = ['--cfg-options', 'test_dataloader.dataset.num_samples=6']


def _metrics(log):
    found = dict(re.findall(r'mask/(\w+): ([0-9.]+)', log))
    assert set(found) == {'iou', 'mba', 'coarse_iou', 'coarse_mba'}, log[-3000:]
    return {key: float(value) for key, value in found.items()}


@pytest.fixture(scope='module')
def single_process_metrics(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('test_single')
    log = run_in_repo([
        sys.executable, 'tools/test.py', TINY_CONFIG, CHECKPOINT, '--work-dir',
        str(work_dir), *OPTIONS
    ])
    assert 'Failed to search registry' not in log  # every Runner registry has a child
    return _metrics(log)


def test_demo_model_beats_coarse_on_held_out_samples(single_process_metrics):
    metrics = single_process_metrics
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert metrics['iou'] > metrics['coarse_iou']
    assert metrics['mba'] > metrics['coarse_mba']


def test_two_process_test_gives_the_same_figures(single_process_metrics, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()), PYTHON=sys.executable)
    if os.path.isfile(os.path.join(REPO_ROOT, '.venv', 'bin', 'python')):
        # No PYTHON and no interpreter of this environment on PATH: the script must take the
        # repository's .venv, not a bare `python`.
        del env['PYTHON']
        env['PATH'] = '/usr/bin:/bin'
    proc = subprocess.run([
        'bash', 'tools/dist_test.sh', TINY_CONFIG, CHECKPOINT, '2', '--work-dir',
        str(tmp_path), *OPTIONS
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=600,
                          env=env)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    # Sampling is seeded per image, so splitting the set over processes changes nothing.
    assert _metrics(log) == pytest.approx(single_process_metrics, abs=1e-4)


def test_precision_is_a_cfg_option_logged_once(single_process_metrics, tmp_path):
    log = run_in_repo([
        sys.executable, 'tools/test.py', TINY_CONFIG, CHECKPOINT, '--work-dir',
        str(tmp_path), *OPTIONS, 'model.test_cfg.precision=fp32'
    ])
    assert log.count('SegRefiner: the network runs in') == 1, log[-3000:]
    assert "runs in fp32 on cpu (test_cfg.precision='fp32')" in log
    # fp32 and the default ('auto': bf16 where the CPU runs it natively) agree closely
    assert _metrics(log) == pytest.approx(single_process_metrics, abs=0.01)


def _write_big_tree(root):
    """BIG layout (test/<n>_im.jpg, <n>_gt.png, <n>_seg.png): a disc, its coarse mask a square."""
    import cv2
    import numpy as np
    os.makedirs(os.path.join(root, 'test'))
    for index in range(2):
        image = np.full((200, 260, 3), 60, np.uint8)
        cv2.circle(image, (120 + 10 * index, 100), 60, (200, 220, 240), -1)
        gt = np.zeros((200, 260), np.uint8)
        cv2.circle(gt, (120 + 10 * index, 100), 60, 255, -1)
        coarse = np.zeros_like(gt)
        coarse[50:150, 70 + 10 * index:170 + 10 * index] = 255
        for suffix, array in (('_im.jpg', image), ('_gt.png', gt), ('_seg.png', coarse)):
            cv2.imwrite(os.path.join(root, 'test', f'img{index}{suffix}'), array)


def test_hr_run_writes_under_the_work_dir_draws_pictures_and_reruns_cleanly(tmp_path, capsys):
    """The BIG config with the demo model: refined masks and pictures under --work-dir; a re-run
    finds nothing left to refine and says so (instead of an empty metric)."""
    import cv2
    import glob
    from mmengine.config import Config

    from mmseg_refiner.fileio import FOLDER_LOG_NAME
    _write_big_tree(str(tmp_path / 'BIG'))
    cfg = Config.fromfile(
        os.path.join(REPO_ROOT, 'configs/segrefiner/segrefiner_unet-128_big-hr-refine.py'))
    demo = Config.fromfile(TINY_CONFIG).model
    demo.test_cfg = dict(mode='global_local', seed=0)
    cfg.model = demo
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.dataset.data_root = str(tmp_path / 'BIG')
    config = str(tmp_path / 'big.py')
    cfg.dump(config)
    work_dir = tmp_path / 'work'
    tool = load_script('tools/test.py')
    metrics = tool.run_test([config, CHECKPOINT, '--work-dir', str(work_dir), '--show-dir', 'vis'])
    assert metrics['mask/iou'] > metrics['mask/coarse_iou']
    assert sorted(os.listdir(work_dir /
                             'refined')) == [FOLDER_LOG_NAME, 'img0_refine.png', 'img1_refine.png']
    pictures = sorted(glob.glob(str(work_dir / '*' / 'vis' / '*.png')))
    assert [os.path.basename(p) for p in pictures] == ['img0_im.png', 'img1_im.png']
    assert cv2.imread(pictures[0]).shape[1] >= 4 * 260

    assert tool.run_test([config, CHECKPOINT, '--work-dir', str(work_dir)]) == {}
    out = capsys.readouterr().out
    assert 'nothing left to refine' in out and 'got empty self.results' not in out


def test_show_dir_draws_this_packages_pictures_whatever_hook_the_config_inherits():
    from mmengine.config import Config
    tool = load_script('tools/test.py')
    for inherited in (dict(type='SegVisualizationHook'), dict(type='mmdet.DetVisualizationHook'),
                      None):
        cfg = Config(dict(default_hooks=dict(visualization=inherited)))
        tool.trigger_visualization_hook(cfg, tool.parse_args(['c.py', 'x.pth', '--show-dir',
                                                              'vis']))
        assert cfg.default_hooks.visualization == dict(
            type='mmseg_refiner.RefinementVisualizationHook', draw=True, test_out_dir='vis')
    cfg = Config(
        dict(
            default_hooks=dict(
                visualization=dict(type='RefinementVisualizationHook', draw_changes=False))))
    tool.trigger_visualization_hook(cfg, tool.parse_args(['c.py', 'x.pth', '--show-dir', 'v']))
    assert cfg.default_hooks.visualization.draw_changes is False  # its own settings stay


@pytest.mark.parametrize('how', ['checkpoint', 'setting'])
def test_the_published_refiner_with_the_demo_checkpoint_is_one_line_before_any_log(how, capfd):
    tool = load_script('tools/test.py')
    chain = os.path.join(REPO_ROOT, 'configs/chains/mask-rcnn_r50_fpn_1x_coco_segrefiner-lr.py')
    checkpoint = os.path.join(REPO_ROOT, 'demo', 'segrefiner_demo.pth')
    argv = [chain, checkpoint] if how == 'checkpoint' else [
        chain, 'none', '--cfg-options', f'model.refiner_checkpoint={checkpoint}'
    ]
    assert tool.main(argv) == 1
    err = capfd.readouterr().err
    [line] = [line for line in err.strip().splitlines() if line.startswith('error: ')]
    assert 'does not fit' in line
    assert 'Config:' not in err and 'System environment' not in err, err[:2000]
    assert 'demo_lr_refiner / demo_hr_refiner' in line
