"""Reading a tool's config file, and checking the local checkpoints it names, before any work.

:func:`read_config_file` turns a config that cannot be read (no such file, a
syntax error, a missing ``_base_``, keys two bases both define, an exception
in the file's code) into one error naming the file. :func:`check_checkpoints`
refuses a local checkpoint path of the config that does not exist, before a
Runner logs its environment or a URL is downloaded; a URL is left to the
loader.
"""
import os
import os.path as osp
import re
from mmengine.config import Config
from typing import Mapping, Optional


class ConfigSource:
    """Names where a key of a merged config comes from, for a message.

    ``source(key_path)`` is ``config <file>``, followed by ``with
    --cfg-options`` when an option set that key path, a dict holding it, or a
    key inside it (``model.test_cfg`` for ``model.test_cfg.mode=...``).
    """

    def __init__(self, cfg: Mapping, cfg_options: Optional[Mapping] = None) -> None:
        self.label = f'config {getattr(cfg, "filename", None) or "(in memory)"}'
        self.option_keys = [str(key) for key in cfg_options or ()]

    def from_option(self, key_path: str) -> bool:
        """Whether ``key_path`` (``a.b[0].c`` or ``a.b.0.c``) overlaps an option's key."""
        path = re.sub(r'\[(\d+)\]', r'.\1', key_path)
        return any(option == path or option.startswith(path + '.') or path.startswith(option + '.')
                   for option in self.option_keys)

    def __call__(self, key_path: str) -> str:
        return self.label + (' with --cfg-options' if self.from_option(key_path) else '')


class ConfigFileError(ValueError):
    """A config file that cannot be read; names the file and the reason."""


def _reason(error: Exception) -> str:
    """What went wrong while reading a config, in one line."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])  # str(KeyError) quotes its message
    if isinstance(error, SyntaxError):
        return f'syntax error at line {error.lineno}: {error.msg}'
    if isinstance(error, OSError) and error.filename and error.strerror:
        return f'{error.filename}: {error.strerror}'
    return f'{type(error).__name__}: {error}'


def read_config_file(path) -> Config:
    """``Config.fromfile(path)``, raising one error naming ``path`` when it cannot be read.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ConfigFileError: reading it failed (``config <path> could not be read: <reason>``).
    """
    path = os.fspath(path)
    if osp.isdir(path):
        raise ConfigFileError(f'config {path} is a directory; give a config file (.py) in it')
    if not osp.isfile(path):
        raise FileNotFoundError(f'config {path} does not exist')
    try:
        return Config.fromfile(path)
    except Exception as error:  # the file's own code runs: anything it raises is its fault
        raise ConfigFileError(f'config {path} could not be read: {_reason(error)}') from error


def is_url(checkpoint: str) -> bool:
    """Whether a checkpoint setting is a URL (``https://``, ``open-mmlab://``, ...)."""
    return '://' in checkpoint


def check_checkpoint_exists(checkpoint: str, what: str = 'checkpoint') -> None:
    """Refuse a local checkpoint path that does not exist (``<what> <path> does not exist``)."""
    if not is_url(checkpoint) and not osp.exists(checkpoint):
        raise FileNotFoundError(f'{what} {checkpoint} does not exist')


def check_checkpoints(cfg: Mapping, cfg_options: Optional[Mapping] = None) -> None:
    """Refuse the config's local checkpoint paths that do not exist.

    ``load_from`` is checked; without it, the chain settings
    ``model.<part>_checkpoint`` are (with it, a part whose weights the
    checkpoint holds never reads its setting, so it is left to the loader).

    Raises:
        FileNotFoundError: naming the config (and ``--cfg-options`` when an
            option set the key), the key and the path.
    """
    source = ConfigSource(cfg, cfg_options)
    model = cfg.get('model')
    settings = {'load_from': cfg.get('load_from')}
    if not settings['load_from'] and isinstance(model, Mapping):
        settings = {
            f'model.{key}': value
            for key, value in model.items() if key.endswith('_checkpoint')
        }
    for key, checkpoint in settings.items():
        if isinstance(checkpoint, str):
            check_checkpoint_exists(checkpoint, f'{source(key)}: {key}: checkpoint')
