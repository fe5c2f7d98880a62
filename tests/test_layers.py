"""Layers point one way: nothing below ``apis`` imports it, and ``fileio`` imports nothing of ours."""
import ast
import os
import os.path as osp

import pytest

PACKAGE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'mmseg_refiner')


def _package_imports(path):
    """The ``mmseg_refiner`` modules a file imports (relative imports resolved)."""
    module = osp.relpath(path, osp.dirname(PACKAGE))[:-3].replace(os.sep, '.').split('.')
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = module[:len(module) - node.level]
                base = '.'.join(parent + ([base] if base else []))
            found.add(base)
            found.update(f'{base}.{alias.name}' for alias in node.names)
    return {name for name in found if name.startswith('mmseg_refiner')}


def _files(*parts):
    root = osp.join(PACKAGE, *parts)
    return [osp.join(folder, name) for folder, _, names in os.walk(root) for name in names
            if name.endswith('.py')]


@pytest.mark.parametrize('layer', ['datasets', 'engine', 'evaluation', 'models', 'structures',
                                   'visualization', 'fileio', 'utils'])
def test_no_layer_below_apis_imports_it(layer):
    for path in _files(layer):
        bad = {name for name in _package_imports(path) if name.startswith('mmseg_refiner.apis')}
        assert not bad, f'{path} imports {bad}'


def test_fileio_imports_nothing_of_the_package_but_itself():
    for path in _files('fileio'):
        bad = {name for name in _package_imports(path)
               if not name.startswith('mmseg_refiner.fileio')}
        assert not bad, f'{path} imports {bad}'
