from .safe_checkpoint import (UnsafeCheckpointError, allow_runner_checkpoint_globals,
                              load_checkpoint_file)
from .setup_env import register_all_modules

__all__ = [
    'UnsafeCheckpointError', 'allow_runner_checkpoint_globals', 'load_checkpoint_file',
    'register_all_modules'
]
