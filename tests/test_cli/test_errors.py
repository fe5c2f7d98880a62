"""The shared error reporting of the tools: ``error: ...``, exit status, no traceback."""
import argparse
import pytest

from mmseg_refiner.cli.errors import DEBUG_ENV, UsageError, cli_main
from mmseg_refiner.utils import CheckpointError, UnsafeCheckpointError


def _tool(error=None, status=0):

    @cli_main
    def main(argv=None):
        parser = argparse.ArgumentParser(prog='tool')
        parser.add_argument('--n', type=int)
        parser.parse_args(argv)
        if error is not None:
            raise error
        return status

    return main


@pytest.mark.parametrize('error, status', [
    (UsageError('--out x is an existing directory'), 2),
    (ValueError('results.json: record 3, score: nan is not a finite number'), 1),
    (CheckpointError('checkpoint a.pth is empty (0 bytes)'), 1),
    (UnsafeCheckpointError('refused to load evil.pth'), 1),
    (FileNotFoundError(2, 'No such file or directory', 'missing.json'), 1),
])
def test_expected_errors_print_one_line_without_traceback(error, status, capsys, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert _tool(error)([]) == status
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'Traceback' not in err
    if isinstance(error, FileNotFoundError):
        assert err == 'error: missing.json: No such file or directory\n'
    else:
        assert err == f'error: {error}\n'


def test_debug_env_shows_the_traceback(capsys, monkeypatch):
    monkeypatch.setenv(DEBUG_ENV, '1')
    assert _tool(ValueError('bad key'))([]) == 1
    err = capsys.readouterr().err
    assert 'Traceback (most recent call last)' in err and err.endswith('error: bad key\n')


def test_bugs_keep_their_traceback():
    with pytest.raises(ZeroDivisionError):
        _tool(ZeroDivisionError('a bug'))([])


def test_argparse_errors_and_statuses_are_returned(capsys):
    assert _tool()(['--n', 'x']) == 2
    assert "argument --n: invalid int value: 'x'" in capsys.readouterr().err
    assert _tool(status=None)([]) == 0
    assert _tool(status=1)([]) == 1
    assert _tool(KeyboardInterrupt())([]) == 130
