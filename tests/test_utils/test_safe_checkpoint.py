"""Runner checkpoints load with ``weights_only=True``; anything else is refused."""
import numpy as np
import os
import pickle
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


# --------------------------------------------------------------------------- strict loading
from mmseg_refiner.utils import CheckpointError, load_weights  # noqa: E402


class _Net(nn.Module):

    def __init__(self, width=3):
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3)
        self.head = nn.Linear(width, 1)


def _saved(tmp_path, name, obj):
    path = tmp_path / name
    torch.save(obj, path)
    return str(path)


def test_load_weights_round_trip_and_ddp_prefix(tmp_path):
    source = _Net()
    path = _saved(tmp_path, 'ok.pth',
                  {'state_dict': {f'module.{k}': v
                                  for k, v in source.state_dict().items()}})
    target = _Net()
    load_weights(target, path)
    assert all(
        torch.equal(a, b) for a, b in zip(source.state_dict().values(),
                                          target.state_dict().values()))


@pytest.mark.parametrize('content, words', [
    (b'', 'is empty (0 bytes)'),
    (b'<html>404</html>\n', "is not a PyTorch checkpoint (it begins with b'<htm'"),
])
def test_empty_and_text_files_are_named(tmp_path, content, words):
    path = tmp_path / 'bad.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        load_weights(_Net(), str(path))
    assert str(path) in str(err.value) and words in str(err.value)


def test_truncated_file_is_named(tmp_path):
    path = _saved(tmp_path, 'full.pth', {'state_dict': _Net().state_dict()})
    data = open(path, 'rb').read()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match=r'cut.pth is truncated or corrupt'):
        load_weights(_Net(), str(cut))


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_non_finite_weights_are_refused(tmp_path, value):
    state = _Net().state_dict()
    state['head.bias'].fill_(value)
    path = _saved(tmp_path, 'diverged.pth', {'state_dict': state})
    with pytest.raises(
            CheckpointError,
            match=r'diverged.pth has NaN or Inf values in 1 '
            r'tensor\(s\): head.bias'):
        load_weights(_Net(), path)


def test_other_architecture_lists_first_keys(tmp_path):
    path = _saved(tmp_path, 'wide.pth', {'state_dict': _Net(width=5).state_dict()})
    with pytest.raises(CheckpointError) as err:
        load_weights(_Net(width=3), path)
    message = str(err.value)
    assert 'wide.pth does not fit the model _Net' in message
    assert 'conv.weight (5, 1, 3, 3) vs (3, 1, 3, 3)' in message
    state = _Net().state_dict()
    state['extra.weight'] = torch.zeros(1)
    del state['head.bias']
    path = _saved(tmp_path, 'keys.pth', state)
    with pytest.raises(CheckpointError, match=r'1 missing: head.bias; 1 unexpected: extra.weight'):
        load_weights(_Net(), path)


def test_no_weights_in_the_file(tmp_path):
    path = _saved(tmp_path, 'meta.pth', {'meta': {'epoch': 3}})
    with pytest.raises(CheckpointError, match=r'meta.pth holds no weights .* keys meta'):
        load_weights(_Net(), path)


class _Payload:

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null', ))


def test_foreign_code_is_still_refused_by_load_weights(tmp_path):
    path = _saved(tmp_path, 'evil.pth', {'state_dict': _Net().state_dict(), 'x': _Payload()})
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_weights(_Net(), path)
