"""Runner checkpoints load with ``weights_only=True``; anything else is refused."""
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmseg_refiner.registry import MODELS
from mmseg_refiner.utils import UnsafeCheckpointError, load_checkpoint_file


@MODELS.register_module(force=True)
class _TwoParamRegressor(BaseModel):
    """y = w * x + b, trained toward y = 3x + 1."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        pred = self.linear(x)
        if mode == 'loss':
            return dict(loss=((pred - (3 * x + 1))**2).mean())
        return pred


class _Points(torch.utils.data.Dataset):

    def __len__(self):
        return 16

    def __getitem__(self, idx):
        return dict(inputs=torch.tensor([idx / 16.0]))


def _runner(work_dir, max_iters, resume=False):
    return Runner(
        model=dict(type='_TwoParamRegressor'),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_Points(),
            sampler=dict(type='InfiniteSampler', shuffle=True),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        resume=resume,
        randomness=dict(seed=0),
        default_scope='mmseg_refiner',
        experiment_name=f'exp_{max_iters}_{int(resume)}')


def test_runner_checkpoint_resumes_under_weights_only(tmp_path):
    assert torch.__version__ >= '2.6', 'the trap this guards against needs torch >= 2.6'
    first = _runner(tmp_path, max_iters=2)
    first.train()
    ckpt_path = tmp_path / 'iter_2.pth'
    assert ckpt_path.exists()
    saved = load_checkpoint_file(str(ckpt_path))  # weights_only=True
    # The Runner's meta really holds the types that break a plain weights_only load.
    assert isinstance(saved['meta']['seed'], (int, np.integer))
    assert 'message_hub' in saved and 'optimizer' in saved
    saved_step = saved['optimizer']['state'][0]['step']

    resumed = _runner(tmp_path, max_iters=4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    final = load_checkpoint_file(str(tmp_path / 'iter_4.pth'))
    assert final['meta']['iter'] == 4
    # AdamW's step counter continued from the resumed state: 2 + 2 iterations.
    assert float(saved_step) == 2.0
    assert float(final['optimizer']['state'][0]['step']) == 4.0


class _RunsShell:
    """Pickles to ``os.system('touch <marker>')``: a malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_malicious_checkpoint_is_refused_not_executed(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        pickle.dump({'state_dict': {}, 'meta': _RunsShell(marker)}, f)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint_file(str(path))
    assert not marker.exists()


def test_getattr_outside_history_buffer_is_refused(tmp_path):
    """The getattr allowed for ``HistoryBuffer.mean`` cannot reach anything else."""

    from mmengine.logging import HistoryBuffer

    class _GetattrUpdate:

        def __reduce__(self):
            return (getattr, (HistoryBuffer, 'update'))

    path = tmp_path / 'getattr.pth'
    torch.save({'meta': _GetattrUpdate()}, path)
    with pytest.raises(UnsafeCheckpointError, match='getattr.pth'):
        load_checkpoint_file(str(path))


def test_mmengine_load_checkpoint_uses_the_allow_list(tmp_path):
    """``load_from`` / ``init_cfg`` paths go through mmengine's loader."""
    from mmengine.runner import load_checkpoint
    first = _runner(tmp_path, max_iters=2)
    first.train()
    model = _TwoParamRegressor()
    load_checkpoint(model, str(tmp_path / 'iter_2.pth'), map_location='cpu')
    assert torch.equal(model.linear.weight, first.model.linear.weight)
