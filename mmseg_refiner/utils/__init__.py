from .safe_checkpoint import (CheckpointError, UnsafeCheckpointError,
                              allow_runner_checkpoint_globals, install_safe_checkpoint_loader,
                              load_checkpoint_file, load_weights)
from .setup_env import register_all_modules

__all__ = [
    'CheckpointError', 'UnsafeCheckpointError', 'allow_runner_checkpoint_globals',
    'install_safe_checkpoint_loader',
    'load_checkpoint_file', 'load_weights', 'register_all_modules'
]
