"""Layers point one way, and no module imports itself back through others.

From the bottom: ``fileio`` (imports nothing of ours but itself), then
``structures``, ``registry``, ``utils`` and the shipped ``configs`` (nothing above
``registry`` / ``fileio``), then ``datasets``, ``models``, ``evaluation``,
``engine``, ``visualization``, then ``apis``; ``cli`` on top, imported by
``tools/`` and ``demo/`` alone; ``testing`` (the helpers of the test suite)
beside it, imported by nothing of the package. The package's own
``__init__.py`` imports every layer to register them and is left out.
"""
import ast
import os
import os.path as osp
import pytest

from mmseg_refiner.testing import REPO_ROOT

PACKAGE = osp.join(REPO_ROOT, 'mmseg_refiner')

#: The layer of each top-level name of the package, from the bottom up.
LAYERS = {
    'fileio': 0,
    'structures': 1,
    'registry': 1,
    'utils': 1,
    'configs': 1,
    'version': 1,
    'datasets': 2,
    'models': 2,
    'evaluation': 2,
    'engine': 2,
    'visualization': 2,
    'apis': 3,
    'cli': 4,
    'testing': 4
}


def _module_name(path):
    parts = osp.relpath(path, osp.dirname(PACKAGE))[:-3].split(os.sep)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _package_imports(path):
    """The ``mmseg_refiner`` names a file imports (relative imports resolved), anywhere in it."""
    module = _module_name(path).split('.')
    if path.endswith('__init__.py'):
        module.append('__init__')  # ``from . import x`` in a package means the package itself
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
    return {name for name in found if name.split('.')[0] == 'mmseg_refiner'}


def _files(*parts):
    root = osp.join(PACKAGE, *parts)
    return sorted(
        osp.join(folder, name) for folder, _, names in os.walk(root) for name in names
        if name.endswith('.py'))


def _modules():
    """Module name -> file of every module of the package but its own ``__init__``."""
    root = osp.join(PACKAGE, '__init__.py')
    return {_module_name(path): path for path in _files() if path != root}


def _graph():
    """Module -> the package modules it imports (a name that is not a module, such as a
    function in ``from .x import f``, counts as its module ``x``)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in _package_imports(path):
            if imported in modules:
                targets.add(imported)
            elif imported.rpartition('.')[0] in modules:
                targets.add(imported.rpartition('.')[0])
        graph[name] = targets - {name}
    return graph


def _layer(module):
    parts = module.split('.')
    return LAYERS[parts[1]] if len(parts) > 1 else None


def test_every_top_level_name_has_a_layer():
    tops = {name.split('.')[1] for name in _modules()}
    assert tops <= set(LAYERS), f'give {tops - set(LAYERS)} a layer in LAYERS'


def _arrows_up(graph):
    return [
        f'{source} (layer {_layer(source)}) imports {target} (layer {_layer(target)})'
        for source, targets in graph.items() for target in sorted(targets)
        if _layer(target) is not None and _layer(target) > _layer(source)
    ]


def _circles(graph):
    state, stack, circles = {}, [], []

    def visit(node):
        state[node] = 'open'
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 'open':
                circles.append(' -> '.join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 'done'

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return circles


def test_no_arrow_points_up():
    bad = _arrows_up(_graph())
    assert not bad, '\n'.join(bad)


def test_no_import_circle():
    circles = _circles(_graph())
    assert not circles, '\n'.join(circles)


def test_fileio_imports_nothing_of_the_package_but_itself():
    for path in _files('fileio'):
        bad = {
            name
            for name in _package_imports(path) if not name.startswith('mmseg_refiner.fileio')
        }
        assert not bad, f'{path} imports {bad}'


@pytest.mark.parametrize('top', ['cli', 'testing'])
def test_cli_and_testing_are_imported_by_no_other_part_of_the_package(top):
    bad = [
        f'{source} imports {target}' for source, targets in _graph().items() for target in targets
        if target.split('.')[1] == top and source.split('.')[1] != top
    ]
    assert not bad, '\n'.join(bad)


def test_the_checks_see_an_upward_arrow_and_a_circle():
    """The graph has the real edges (``apis.inference`` imports ``utils.checks`` and
    ``models``), and an edge made up from ``utils.checks`` back to it is caught twice:
    as an arrow up and as a circle."""
    graph = _graph()
    assert 'mmseg_refiner.utils.checks' in graph['mmseg_refiner.apis.inference']
    assert any(
        target.startswith('mmseg_refiner.models.')
        for target in graph['mmseg_refiner.apis.inference'])
    graph['mmseg_refiner.utils.checks'] = {'mmseg_refiner.apis.inference'}
    assert _arrows_up(graph) == [
        'mmseg_refiner.utils.checks (layer 1) imports '
        'mmseg_refiner.apis.inference (layer 3)'
    ]
    assert any(
        circle.startswith('mmseg_refiner.apis.inference -> ')
        and circle.endswith(' -> mmseg_refiner.utils.checks -> mmseg_refiner.apis.inference')
        for circle in _circles(graph))
