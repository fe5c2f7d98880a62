"""SegRefiner (NeurIPS 2023) as an OpenMMLab plugin.

Importing this package registers every module (the target of
``custom_imports=dict(imports=['mmseg_refiner'])``) and allow-lists the types
MMEngine Runner checkpoints hold, so ``--resume``/``load_from`` work under
torch >= 2.6 with ``weights_only=True``; every checkpoint MMEngine reads from
then on goes through the package's safe loader
(:mod:`mmseg_refiner.utils.safe_checkpoint`).
"""
from .utils import allow_runner_checkpoint_globals, install_safe_checkpoint_loader
from .version import __version__

allow_runner_checkpoint_globals()
install_safe_checkpoint_loader()

# isort: off
from . import apis, datasets, engine, evaluation, models, structures, visualization  # noqa: E402,F401,E501
# isort: on

__all__ = ['__version__']
