"""Bottom helpers: checks of settings and paths, the safe checkpoint loader, reading a config
file. Nothing here imports a layer above ``registry`` / ``fileio``."""
from .safe_checkpoint import (CheckpointError, UnsafeCheckpointError,
                              allow_runner_checkpoint_globals,
                              load_checkpoint_file, load_weights)

__all__ = [
    'CheckpointError', 'UnsafeCheckpointError', 'allow_runner_checkpoint_globals',
    'load_checkpoint_file', 'load_weights'
]
