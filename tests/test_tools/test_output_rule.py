"""Every tool declares the paths it reads and writes, and the output rule refuses, before any
work, an output that would replace or mix with any input, or is of the wrong format.

The tools are found by walking ``tools/`` and ``demo/`` (every script using argparse), so a
new tool that forgets to declare a path, or to check it, fails here.
"""
import argparse
import glob
import hashlib
import os.path as osp
import pytest
import re

from mmseg_refiner.testing import REPO_ROOT as REPO
from mmseg_refiner.testing import load_script

#: Words of an argument's name that say it is a path.
PATH_WORDS = {
    'out', 'dir', 'file', 'json', 'config', 'checkpoint', 'image', 'img', 'mask', 'gt', 'vis',
    'results', 'src', 'dst', 'list', 'resume', 'pred', 'coarse', 'path', 'ann', 'lvis', 'coco',
    'work', 'show'
}
#: Arguments whose names contain such a word but that are not paths.
NOT_PATHS = {'cfg_options', 'overwrite'}


def _tool_paths():
    scripts = sorted(glob.glob(osp.join(REPO, 'tools', '**', '*.py'), recursive=True))
    scripts += sorted(glob.glob(osp.join(REPO, 'demo', '*.py')))
    found = []
    for path in scripts:
        with open(path) as f:
            if 'ArgumentParser(' in f.read():
                found.append(osp.relpath(path, REPO))
    return found


TOOLS = _tool_paths()


class _Captured(BaseException):
    """Raised in place of ``parse_args``: carries the parser."""

    def __init__(self, parser):
        self.parser = parser


def _parser_of(tool: str, monkeypatch) -> argparse.ArgumentParser:
    module = load_script(tool, 'tool_under_test_' + re.sub(r'\W', '_', tool))

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', capture)
    try:
        module.main([])
    except _Captured as captured:
        return captured.parser
    finally:
        monkeypatch.undo()
    raise AssertionError(f'{tool}: main() did not parse its arguments')


def _is_path_like(action) -> bool:
    if action.nargs == 0 or action.dest in NOT_PATHS or action.dest == 'help':
        return False  # flags
    if action.type not in (None, str) or action.dest.endswith('suffix'):
        return False
    return bool(set(action.dest.split('_')) & PATH_WORDS)


def test_the_walk_finds_the_tools():
    assert {
        'tools/refine.py', 'tools/refine_coco_results.py', 'tools/test.py', 'tools/train.py',
        'tools/analysis_tools/eval_mask_folders.py', 'tools/analysis_tools/eval_instance_results.py'
    } <= set(TOOLS)
    assert len(TOOLS) >= 16


@pytest.mark.parametrize('tool', TOOLS)
def test_every_path_argument_is_declared(tool, monkeypatch):
    parser = _parser_of(tool, monkeypatch)
    undeclared = [
        action.dest for action in parser._actions
        if _is_path_like(action) and not hasattr(action, 'job_path')
    ]
    assert not undeclared, (f'{tool}: declare these with add_input_arg / add_output_arg '
                            f'(mmseg_refiner/cli/args.py): {undeclared}')


def _declared(parser, role):
    return [a for a in parser._actions if getattr(a, 'job_path', {}).get('role') == role]


def _name(action):
    return action.option_strings[0] if action.option_strings else action.dest


def _filler(action, tmp_path):
    """A harmless value for a required argument that is not under test."""
    spec = getattr(action, 'job_path', None)
    if spec is not None and spec['role'] == 'input':
        path = tmp_path / f'other_{action.dest}'
        if spec['folder'] is True:
            path.mkdir(exist_ok=True)
        else:
            path.write_bytes(b'other input')
        return str(path)
    if spec is not None:  # another output: somewhere harmless
        return str(tmp_path / 'elsewhere' / ('o' + (spec['formats'] or ('', ))[0]))
    if action.choices:
        return str(list(action.choices)[0])
    return '1'


def _argv(parser, values):
    """Positionals in order, then options, from ``{action: value}``."""
    argv = [values[a] for a in parser._actions if not a.option_strings and a in values]
    for action, value in values.items():
        if action.option_strings:
            argv += [action.option_strings[0], value]
    return argv


def _required(parser, values, tmp_path):
    """``values`` with a harmless value for every other required argument."""
    for action in parser._actions:
        positional = not action.option_strings and action.nargs not in ('?', '*')
        if action not in values and (action.required or positional):
            values[action] = _filler(action, tmp_path)
    return values


def _cases(parser, tmp_path):
    """``(output action, argv, the input's path)``: each output aimed at each input."""
    pairs = [(out, source) for out in _declared(parser, 'output')
             for source in _declared(parser, 'input')]
    for index, (out, source) in enumerate(pairs):
        case = tmp_path / f'case{index}'
        case.mkdir()
        out_folder = out.job_path['folder'] is True
        formats = out.job_path['formats']
        ext = formats[0] if formats else '.dat'
        if source.job_path['folder'] is True:
            target = case / f'in_{source.dest}'
            target.mkdir()
            (target / f'a{ext}').write_bytes(b'an input file')
            in_value = str(target)
            out_value = in_value if out_folder else str(target / f'a{ext}')
        elif out_folder:
            continue  # an input file may live in an output folder (the work dir)
        else:
            target = case / f'in_{source.dest}{ext}'
            target.write_bytes(b'an input file')
            in_value = out_value = str(target)
        values = _required(parser, {source: in_value, out: out_value}, case)
        yield out, _argv(parser, values), target


def _digest(path):
    if osp.isdir(path):
        return sorted((p, _digest(p)) for p in glob.glob(osp.join(path, '**'), recursive=True)
                      if osp.isfile(p))
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.mark.parametrize('tool', TOOLS)
def test_no_output_may_replace_an_input(tool, tmp_path, monkeypatch, capsys):
    parser = _parser_of(tool, monkeypatch)
    module = load_script(tool, 'tool_run_' + re.sub(r'\W', '_', tool))
    if not _declared(parser, 'output'):
        pytest.skip(f'{tool} writes no file')
    cases = list(_cases(parser, tmp_path))
    if not cases:
        pytest.skip(f'{tool} writes only folders and reads only files (which may lie in them)')
    for out, argv, target in cases:
        before = _digest(str(target))
        status = module.main(argv)
        err = capsys.readouterr().err
        assert status != 0, f'{tool} {argv}: accepted'
        assert 'error:' in err and 'destroy or mix with an input' in err, (tool, argv, err)
        assert _name(out) in err and 'Traceback' not in err, err
        assert _digest(str(target)) == before


@pytest.mark.parametrize('tool', TOOLS)
def test_an_output_of_the_wrong_format_is_refused_by_its_name(tool, tmp_path, monkeypatch, capsys):
    parser = _parser_of(tool, monkeypatch)
    module = load_script(tool, 'tool_fmt_' + re.sub(r'\W', '_', tool))
    outputs = [o for o in _declared(parser, 'output') if o.job_path['formats']]
    if not outputs:
        pytest.skip(f'{tool} declares no output format')
    for out in outputs:
        values = _required(parser, {out: str(tmp_path / 'result.xyz')}, tmp_path)
        status = module.main(_argv(parser, values))
        err = capsys.readouterr().err
        assert status != 0 and 'error:' in err and 'result.xyz' in err, err
        assert ' or '.join(out.job_path['formats']) in err, err
