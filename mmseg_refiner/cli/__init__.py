"""What only command lines need: error reporting and exit codes (:mod:`.errors`), shared
arguments (:mod:`.args`) and Runner set-up (:mod:`.launch`).

Imported by ``tools/`` and ``demo/`` alone; nothing in the package imports it.
"""
from .args import add_cfg_options_arg, add_common_args, add_device_precision_args
from .errors import (DEBUG_ENV, EXPECTED_ERRORS, INPUT_ERROR, INTERRUPTED, USAGE_ERROR, UsageError,
                     cli_main, report_error)
from .launch import check_weights_fit, load_config, setup_cpu_distributed

__all__ = [
    'DEBUG_ENV', 'EXPECTED_ERRORS', 'INPUT_ERROR', 'INTERRUPTED', 'USAGE_ERROR', 'UsageError',
    'add_cfg_options_arg', 'add_common_args', 'add_device_precision_args', 'check_weights_fit',
    'cli_main', 'load_config', 'report_error', 'setup_cpu_distributed'
]
