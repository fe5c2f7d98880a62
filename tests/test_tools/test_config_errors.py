"""A config that cannot be read or run, and a missing checkpoint or input, end every tool with
one ``error:`` line naming the file or key, exit status 1, before the Runner is built or
anything is downloaded."""
import cv2
import numpy as np
import pytest
import torch
import urllib.error

from mmseg_refiner.apis.folder_job import FOLDER_DATASET_CONFIG
from mmseg_refiner.models.wrappers import chain_weights as upstream
from mmseg_refiner.testing import DEMO_CHECKPOINT, DEMO_CONFIG, load_script, write_det_chain_config

test_tool = load_script('tools/test.py')
train_tool = load_script('tools/train.py')
combine_tool = load_script('tools/model_converters/combine_chain_checkpoint.py')
bench_tool = load_script('tools/analysis_tools/benchmark_global_local_refine.py')
coarse_tool = load_script('tools/dataset_converters/make_hr_coarse_masks.py')
refine_tool = load_script('tools/refine.py')
MASK_FOLDER_BASE = FOLDER_DATASET_CONFIG
DETECTOR_URL = 'https://download.example.invalid/mask_rcnn.pth'


def _one_error(main, argv, capsys):
    """Run a tool; its exit status must be 1 and stderr one ``error:`` line: that line."""
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert status == 1, err
    assert 'Traceback' not in err
    lines = [line for line in err.splitlines() if line.startswith('error: ')]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def no_runner(monkeypatch):
    """test.py / train.py must refuse before a Runner is built."""

    def from_cfg(cfg):
        raise AssertionError('the Runner was built')

    monkeypatch.setattr(test_tool.Runner, 'from_cfg', from_cfg)


@pytest.fixture
def no_loading(monkeypatch):
    """A chain's checkpoints must not be read (a URL would be downloaded)."""

    def load_checkpoint(*args, **kwargs):
        raise AssertionError(f'a checkpoint was read: {args[1]}')

    monkeypatch.setattr(upstream, 'load_checkpoint', load_checkpoint)


BROKEN_CONFIGS = {
    'duplicate keys': (f'_base_ = [{DEMO_CONFIG!r}, {MASK_FOLDER_BASE!r}]\n',
                       'Duplicate key is not allowed among bases'),
    'syntax error': ('model = dict(\n', 'syntax error at line 1'),
    'missing base': ("_base_ = ['no_such_base.py']\n", 'no_such_base.py: No such file'),
    'error in its code': ('model = undefined_name\n', "NameError: name 'undefined_name'"),
}


@pytest.mark.parametrize('kind', sorted(BROKEN_CONFIGS))
def test_a_config_that_cannot_be_read(kind, tmp_path, capsys, no_runner):
    text, reason = BROKEN_CONFIGS[kind]
    config = tmp_path / 'broken.py'
    config.write_text(text)
    expected = f'error: config {config} could not be read: '
    for main, argv in ((test_tool.main, [config, DEMO_CHECKPOINT]), (train_tool.main, [config]),
                       (combine_tool.main, [config, tmp_path / 'out.pth']), (bench_tool.main,
                                                                             ['--config', config])):
        line = _one_error(main, argv, capsys)
        assert line.startswith(expected) and reason in line, line
    assert not (tmp_path / 'out.pth').exists()


def test_a_missing_config(tmp_path, capsys, no_runner):
    for main, argv in ((test_tool.main, [tmp_path / 'no.py', DEMO_CHECKPOINT]),
                       (combine_tool.main, [tmp_path / 'no.py', tmp_path / 'out.pth'])):
        line = _one_error(main, argv, capsys)
        assert line == f'error: config {tmp_path / "no.py"} does not exist'


@pytest.mark.parametrize('option, words', [
    ('model.test_cfg.sede=1',
     ["model.test_cfg: SegRefiner: unknown test_cfg key 'sede'", "did you mean 'seed'"]),
    ('model.test_cfg.mode=semantic', [
        "model.test_cfg: SegRefiner: test_cfg.mode must be one "
        "of ('whole', 'instance', 'global_local'), got 'semantic'"
    ]),
    ('model.test_cfg.precision=fp8', ['model.test_cfg: test_cfg.precision must be one of']),
])
def test_test_cfg_is_refused_before_the_runner(option, words, capsys, no_runner):
    line = _one_error(test_tool.main, [DEMO_CONFIG, DEMO_CHECKPOINT, '--cfg-options', option],
                      capsys)
    assert line.startswith(f'error: config {DEMO_CONFIG} with --cfg-options: ')
    assert all(word in line for word in words), line


def test_missing_checkpoints_are_refused_before_the_runner(tmp_path, capsys, no_runner):
    missing = str(tmp_path / 'segrefiner_hr.pth')
    assert _one_error(test_tool.main, [DEMO_CONFIG, missing],
                      capsys) == f'error: checkpoint {missing} does not exist'
    assert _one_error(train_tool.main, [DEMO_CONFIG, '--resume', missing, '--work-dir', tmp_path],
                      capsys) == f'error: --resume checkpoint {missing} does not exist'
    line = _one_error(
        train_tool.main,
        [DEMO_CONFIG, '--work-dir', tmp_path, '--cfg-options', f'load_from={missing}'], capsys)
    assert line == (f'error: config {DEMO_CONFIG} with --cfg-options: load_from: checkpoint '
                    f'{missing} does not exist')


def test_a_file_that_is_no_checkpoint_is_refused_before_the_runner(tmp_path, capsys, no_runner):
    text, empty, truncated = tmp_path / 'text.pth', tmp_path / 'empty.pth', tmp_path / 'cut.pth'
    text.write_text('# a README saved as weights\n')
    empty.write_bytes(b'')
    truncated.write_bytes(open(DEMO_CHECKPOINT, 'rb').read()[:4096])
    for path, words in ((text, 'is not a PyTorch checkpoint'), (empty, 'is empty (0 bytes)'),
                        (truncated, 'is truncated or corrupt')):
        line = _one_error(test_tool.main, [DEMO_CONFIG, path], capsys)
        assert line.startswith(f'error: checkpoint {path} {words}'), line


@pytest.fixture(scope='module')
def chain_config(tmp_path_factory):
    """The tiny Mask R-CNN chain, its detector checkpoint a URL (unreachable in tests)."""
    root = tmp_path_factory.mktemp('chain')
    return write_det_chain_config(str(root / 'chain.py'), str(root), DETECTOR_URL)


def test_chain_refuses_a_missing_local_checkpoint_before_any_download(chain_config, tmp_path,
                                                                      capsys, no_runner,
                                                                      no_loading):
    missing = str(tmp_path / 'segrefiner_lr.pth')
    option = f'model.refiner_checkpoint={missing}'
    expected = (f'error: config {chain_config} with --cfg-options: model.refiner_checkpoint: '
                f'checkpoint {missing} does not exist')
    assert _one_error(combine_tool.main,
                      [chain_config, tmp_path / 'out.pth', '--cfg-options', option],
                      capsys) == expected
    assert _one_error(test_tool.main, [chain_config, 'none', '--cfg-options', option],
                      capsys) == expected
    line = _one_error(
        test_tool.main,
        [chain_config, 'none', '--cfg-options', 'model.refiner.test_cfg.mode=semantic'], capsys)
    assert "model.refiner.test_cfg: SegRefiner: test_cfg.mode must be one of" in line
    assert not (tmp_path / 'out.pth').exists()


def test_chain_without_refiner_weights_is_refused_before_any_download(chain_config, tmp_path,
                                                                      capsys, no_runner,
                                                                      no_loading):
    line = _one_error(combine_tool.main, [chain_config, tmp_path / 'out.pth'], capsys)
    assert 'the refiner has no trained weights' in line and 'model.refiner_checkpoint' in line
    line = _one_error(test_tool.main, [chain_config, 'none'], capsys)
    assert 'names no refiner weights' in line and 'model.refiner_checkpoint' in line


def test_an_unreachable_url_is_one_error_line(chain_config, tmp_path, capsys, monkeypatch):

    def load_checkpoint(model, filename, **kwargs):
        if filename == DETECTOR_URL:
            raise urllib.error.URLError('[Errno -2] Name or service not known')
        return {}

    monkeypatch.setattr(upstream, 'load_checkpoint', load_checkpoint)
    line = _one_error(combine_tool.main, [
        chain_config, tmp_path / 'out.pth', '--cfg-options',
        f'model.refiner_checkpoint={DEMO_CHECKPOINT}'
    ], capsys)
    assert f'the detector checkpoint {DETECTOR_URL} could not be read' in line
    assert 'Name or service not known' in line and 'model.detector_checkpoint' in line


def test_missing_inputs_are_bad_input_not_usage(tmp_path, capsys):
    """Status 1 in every tool, as for the other bad inputs (2 is a wrong argument)."""
    masks = tmp_path / 'masks'
    masks.mkdir()
    cv2.imwrite(str(masks / 'm.png'), np.zeros((8, 8), np.uint8))
    assert _one_error(coarse_tool.main, [tmp_path / 'gt', tmp_path / 'out'],
                      capsys) == f'error: mask folder {tmp_path / "gt"} does not exist'
    line = _one_error(coarse_tool.main, [masks, tmp_path / 'out', '--list', tmp_path / 'l.txt'],
                      capsys)
    assert line == f'error: {tmp_path / "l.txt"}: No such file or directory'
    assert _one_error(refine_tool.main, [tmp_path / 'images', masks, '--out', tmp_path / 'o.png'],
                      capsys) == f'error: image {tmp_path / "images"} does not exist'
    assert _one_error(refine_tool.main, [masks, tmp_path / 'coarse', '--out', tmp_path / 'o'],
                      capsys) == f'error: mask {tmp_path / "coarse"} does not exist'


def test_a_refiner_checkpoint_of_another_model_is_one_error_line(chain_config, tmp_path, capsys,
                                                                 monkeypatch):
    real_load = upstream.load_checkpoint

    def load_checkpoint(model, filename, **kwargs):
        if filename == DETECTOR_URL:
            return {}
        # logger=None prints: MMEngine's logger may still hold an earlier test's closed stderr
        return real_load(model, filename, **dict(kwargs, logger=None))

    monkeypatch.setattr(upstream, 'load_checkpoint', load_checkpoint)
    other = str(tmp_path / 'other.pth')
    torch.save({'state_dict': {'denoiser.foo': torch.zeros(1)}}, other)
    line = _one_error(
        combine_tool.main,
        [chain_config, tmp_path / 'out.pth', '--cfg-options', f'model.refiner_checkpoint={other}'],
        capsys)
    assert f'the refiner checkpoint {other} does not fit the refiner of the config' in line
    assert 'unexpected key in source state_dict: denoiser.foo' in line and 'in all)' in line
