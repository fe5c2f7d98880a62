"""Installs mmseg_refiner: SegRefiner as an OpenMMLab plugin."""
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(name):
    """Requirement lines of ``requirements/<name>.txt`` (comments dropped)."""
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_version():
    namespace = {}
    with open(osp.join(osp.dirname(__file__), 'mmseg_refiner', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='mmseg_refiner',
    version=read_version(),
    description='SegRefiner: model-agnostic segmentation refinement with a '
    'discrete diffusion process, as an OpenMMLab (mmdet/mmseg) plugin',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
    python_requires='>=3.8',
    install_requires=['torch>=2.6'] + read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    license='Apache License 2.0',
    zip_safe=False,
)
