"""How every command-line tool reports bad input: ``error: ...`` and a non-zero status.

A tool's ``main(argv)`` is decorated with :func:`cli_main`. Expected errors
(bad files, settings and records: :class:`UsageError`, ``ValueError``,
``OSError`` and :class:`UnsafeCheckpointError`; the package's other input
errors derive from ``ValueError``) end the
tool with one line on stderr::

    error: <what is wrong with which file, record or key, and what to do>

and exit status 2 for a usage error (a wrong argument, as argparse does) or 1
for a bad input. No traceback is printed for them; set
``MMSEG_REFINER_DEBUG=1`` to see one. Anything else is a bug and keeps its
traceback. ``main`` called from Python (tests) returns the status instead of
exiting, argparse's own exits included.
"""
import functools
import os
import sys
import traceback
from typing import Callable, Optional

from mmseg_refiner.utils.checks import UsageError
from mmseg_refiner.utils.safe_checkpoint import UnsafeCheckpointError

#: Set this environment variable to a non-empty value other than ``0`` to see
#: the traceback of an expected error too.
DEBUG_ENV = 'MMSEG_REFINER_DEBUG'

#: Exit status of a usage error (a wrong argument), as argparse uses.
USAGE_ERROR = 2
#: Exit status of a bad input (file, record, checkpoint, config key).
INPUT_ERROR = 1

#: Exit status after Ctrl-C (128 + SIGINT), as a shell reports it.
INTERRUPTED = 130

#: What a tool reports as ``error: ...``: bad arguments, files, records, keys
#: (``ValueError``, ``OSError``) and refused checkpoints.
EXPECTED_ERRORS = (ValueError, OSError, UnsafeCheckpointError)


def debug_enabled() -> bool:
    """Whether ``MMSEG_REFINER_DEBUG`` asks for tracebacks of expected errors."""
    return os.environ.get(DEBUG_ENV, '') not in ('', '0')


def report_error(error: BaseException, stream=None) -> int:
    """Print ``error: <message>`` (and the traceback in debug mode); the exit status."""
    stream = sys.stderr if stream is None else stream
    if debug_enabled():
        traceback.print_exception(type(error), error, error.__traceback__, file=stream)
    message = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        message = f'{error.filename}: {error.strerror}'  # not "[Errno 2] ..."
    print(f'error: {message}', file=stream)
    return USAGE_ERROR if isinstance(error, UsageError) else INPUT_ERROR


def cli_main(main: Callable[..., Optional[int]]) -> Callable[..., int]:
    """Decorate a tool's ``main(argv=None)`` so expected errors become ``error: ...``.

    The decorated ``main`` returns the exit status (0 when ``main`` returned
    ``None``); run the tool with ``sys.exit(main())``.
    """

    @functools.wraps(main)
    def wrapped(*args, **kwargs) -> int:
        try:
            status = main(*args, **kwargs)
        except SystemExit as exit_:  # argparse's usage errors, --help
            code = exit_.code
            if code is None or isinstance(code, int):
                return code or 0
            print(code, file=sys.stderr)
            return INPUT_ERROR
        except EXPECTED_ERRORS as error:
            return report_error(error)
        except KeyboardInterrupt as interrupt:  # a job's own says what it kept
            print(str(interrupt) or 'interrupted', file=sys.stderr)
            return INTERRUPTED
        return 0 if status is None else int(status)

    return wrapped
