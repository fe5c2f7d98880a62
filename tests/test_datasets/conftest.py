"""Fixtures of the training-set tests that build a dataset config on a tiny tree."""
import logging
import pytest
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from mmseg_refiner.registry import DATASETS


@pytest.fixture
def build(data_root, dataset_cfg):
    """``build_dataset(**overrides)``: the test module's ``dataset_cfg`` fixture (a dataset
    config) built on the tree of its ``data_root`` fixture (``data_root`` is the folder
    ``<data_root parent>/<data_root name>``, the config's paths are relative to its parent)."""

    def build_dataset(**overrides):
        cfg = dataset_cfg.copy()
        cfg.update(data_root=str(data_root.parent), **overrides)
        with DefaultScope.overwrite_default_scope('mmseg_refiner'):
            return DATASETS.build(cfg)

    return build_dataset


@pytest.fixture
def warnings_logged():
    """The messages of the warnings MMEngine's current logger logs during the test."""
    messages = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)
