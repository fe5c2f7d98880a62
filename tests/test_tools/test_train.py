"""tools/train.py and tools/dist_train.sh through the MMEngine Runner, on the CPU."""
import json
import numpy as np
import os
import os.path as osp
import pytest
import sys

from mmseg_refiner.testing import DEMO_CONFIG, REPO_ROOT, free_port, run_in_repo
from mmseg_refiner.utils import load_checkpoint_file

TINY_CONFIG = DEMO_CONFIG


def _options(max_iters, checkpoint_interval):
    """Shrink the demo recipe to a few iterations that run in seconds."""
    return [
        f'train_cfg.max_iters={max_iters}',
        f'default_hooks.checkpoint.interval={checkpoint_interval}',
        'default_hooks.checkpoint.save_optimizer=True',
        'default_hooks.checkpoint.save_param_scheduler=True',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'default_hooks.logger.interval=1',
        'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.dataset.num_samples=2',
    ]


def _train(work_dir, *extra, max_iters=4, interval=2):
    return run_in_repo([
        sys.executable, 'tools/train.py', TINY_CONFIG, '--work-dir',
        str(work_dir), *extra, '--cfg-options', *_options(max_iters, interval)
    ])


def _losses(work_dir):
    """Per-iteration training losses from the LocalVisBackend's scalars.json."""
    return [r for r in _scalars(work_dir) if 'loss' in r]


def _scalars(work_dir):
    """Every record of the LocalVisBackend's scalars.json files, by step."""
    files = []
    for root, _, names in os.walk(work_dir):
        files += [osp.join(root, n) for n in names if n == 'scalars.json']
    assert files, f'no scalars.json under {work_dir}'
    records = []
    for path in files:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return sorted(records, key=lambda r: r['step'])


def test_tiny_config_trains_and_loss_falls(tmp_path):
    _train(tmp_path, max_iters=40, interval=40)
    records = _losses(tmp_path)
    losses = np.array([r['loss'] for r in records])
    assert len(losses) == 40 and np.isfinite(losses).all()
    assert losses[-8:].mean() < 0.8 * losses[:4].mean(), losses
    assert all('train_iou' in r for r in records)
    assert osp.exists(tmp_path / 'iter_40.pth')
    # validated at the end on held-out synthetic seeds, logged to the scalars
    [val] = [r for r in _scalars(tmp_path) if 'mask/iou' in r]
    assert val['step'] == 40
    assert {'mask/mba', 'mask/coarse_iou', 'mask/coarse_mba'} <= set(val)
    assert 0.0 <= val['mask/iou'] <= 1.0


def test_resume_continues_from_last_checkpoint(tmp_path):
    _train(tmp_path, max_iters=2, interval=2)
    first = load_checkpoint_file(str(tmp_path / 'iter_2.pth'))
    assert first['meta']['iter'] == 2

    log = _train(tmp_path, '--resume', max_iters=4, interval=2)
    assert 'resumed' in log.lower()
    final = load_checkpoint_file(str(tmp_path / 'iter_4.pth'))
    assert final['meta']['iter'] == 4
    # AdamW's per-parameter step counter carried on from the resumed state.
    steps = {float(s['step']) for s in final['optimizer']['state'].values()}
    assert steps == {4.0}
    records = _losses(tmp_path)
    assert sorted({r['step'] for r in records}) == [1, 2, 3, 4]


#: Worst seconds per iteration of each shipped training recipe on its intended hardware
#: (tiny: the figure measured on shared CPU cores, in its config; the 8-GPU recipes: the
#: estimate in the LVIS config). A kill must lose at most a few minutes.
RECIPE_SECONDS_PER_ITER = {
    'segrefiner_unet-tiny_1xb8-3k_synthetic-64.py': 1.0,
    'segrefiner_unet-128_8xb8-120k_lvis-256.py': 0.5,
    'segrefiner_unet-128_8xb8-40k_dis5k-thin-256.py': 0.5,
}
MAX_LOST_SECONDS = 5 * 60


def test_every_training_recipe_saves_resumable_checkpoints_often():
    from mmengine.config import Config
    recipes = sorted(
        p for p in os.listdir(osp.join(REPO_ROOT, 'configs/segrefiner')) if p.endswith('.py')
        and 'train_dataloader' in Config.fromfile(osp.join(REPO_ROOT, 'configs/segrefiner', p)))
    assert recipes == sorted(RECIPE_SECONDS_PER_ITER)
    for name in recipes:
        hook = Config.fromfile(osp.join(REPO_ROOT, 'configs/segrefiner',
                                        name)).default_hooks.checkpoint
        assert hook.get('save_optimizer', True) and hook.get('save_param_scheduler', True), name
        assert not hook.get('by_epoch', True), name
        assert hook.interval * RECIPE_SECONDS_PER_ITER[name] <= MAX_LOST_SECONDS, name


def test_tiny_recipe_checkpoints_resume_and_publishes_weights_only(tmp_path):
    """The recipe's own checkpoint settings (only interval and size shrunk): the periodic
    checkpoint holds optimizer and scheduler state, the published one the weights only."""
    run_in_repo([
        sys.executable, 'tools/train.py', TINY_CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_iters=2',
        'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False'
    ])
    periodic = load_checkpoint_file(str(tmp_path / 'iter_2.pth'))
    assert {'state_dict', 'optimizer', 'param_schedulers', 'meta'} <= set(periodic)
    [published] = [p for p in os.listdir(tmp_path) if p.startswith('iter_2-')]
    assert set(load_checkpoint_file(str(tmp_path / published))) == {'meta', 'state_dict'}


@pytest.mark.skipif(sys.platform != 'linux', reason='torchrun with gloo is exercised on Linux')
def test_dist_train_two_cpu_processes_write_one_checkpoint(tmp_path):
    log = run_in_repo([
        'bash', 'tools/dist_train.sh', TINY_CONFIG, '2', '--work-dir',
        str(tmp_path), '--cfg-options', *_options(2, 2)
    ],
                      PORT=str(free_port()))
    assert 'Distributed training: True' in log and 'GPU number: 2' in log, log[-3000:]
    checkpoints = sorted(p.name for p in tmp_path.iterdir() if p.suffix == '.pth')
    # One resumable checkpoint and one published (weights-only) copy, not one per process.
    assert len(checkpoints) == 2 and checkpoints[1] == 'iter_2.pth', checkpoints
    assert checkpoints[0].startswith('iter_2-')
    ckpt = load_checkpoint_file(str(tmp_path / 'iter_2.pth'))
    assert not any(k.startswith('module.') for k in ckpt['state_dict'])


def test_amp_trains_on_the_cpu_in_bf16_with_finite_losses(tmp_path):
    log = _train(tmp_path, '--amp', max_iters=2, interval=2)
    assert 'BF16AmpOptimWrapper' in log
    losses = [r['loss'] for r in _losses(tmp_path)]
    assert len(losses) == 2 and np.isfinite(losses).all(), losses
    assert osp.exists(tmp_path / 'iter_2.pth')


def test_a_debugging_run_without_workers_shorter_than_the_logger_interval_logs(tmp_path):
    # the recipe's persistent workers and logger interval (50) as they are
    log = run_in_repo([
        sys.executable, 'tools/train.py', TINY_CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_iters=3', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'val_dataloader.dataset.num_samples=1',
        'default_hooks.checkpoint.interval=3'
    ])
    [line] = [line for line in log.splitlines() if 'Iter(train) [3/3]' in line]
    for field in ('lr: ', 'eta: ', ' loss: ', 'loss_mask: '):
        assert field in line, line
