"""Scripts of the repository that are not in a package (``tools/``, test data builders) as
modules, for tests that call their functions."""
import contextlib
import importlib.util
import os.path as osp
import sys

from mmseg_refiner.apis.inference import REPO_ROOT


def _module(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO_ROOT, path))
    return spec, importlib.util.module_from_spec(spec)


def _default_name(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def load_script(path: str, name: str = None):
    """The script at ``path`` (relative to the repository) as a new module named ``name``
    (default: the file's stem), not registered in ``sys.modules``."""
    spec, module = _module(path, name or _default_name(path))
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def registered_script(path: str):
    """:func:`load_script`, registered in ``sys.modules`` under the file's stem while in use,
    so that worker processes can unpickle its functions."""
    spec, module = _module(path, _default_name(path))
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]
