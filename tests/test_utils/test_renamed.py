"""Names of earlier releases (the ``'semantic'`` test mode, the ``semantic_refiner`` key, the
``HRMaskMetric`` type) are refused on every route with a message naming the new name, and a
misspelled ``test_cfg`` key is named instead of being ignored."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from mmseg_refiner.apis import refine
from mmseg_refiner.evaluation import RefinedMaskMetric
from mmseg_refiner.models.refiners.segrefiner import TEST_MODES, check_test_mode
from mmseg_refiner.registry import METRICS, MODELS
from mmseg_refiner.utils.config_keys import ConfigKeyError, validate_config
from mmseg_refiner.utils.renamed import RenamedError
from scripts import REPO, load_script
from tiny_models import tiny_segrefiner_cfg

DEMO_CONFIG = osp.join(REPO, 'configs/segrefiner/segrefiner_unet-tiny_1xb8-3k_synthetic-64.py')


def _old_style_cfg():
    """A tiny model config as an earlier release wrote it."""
    cfg = tiny_segrefiner_cfg('global_local')
    cfg['semantic_refiner'] = cfg.pop('global_local_refiner')
    cfg['test_cfg'] = dict(cfg['test_cfg'], mode='semantic')
    return cfg


def test_the_old_refiner_key_is_refused_naming_the_new_one_by_config_check_and_build():
    old = _old_style_cfg()
    with pytest.raises(ConfigKeyError,
                       match="model: key 'semantic_refiner' was renamed 'global_local_refiner'"):
        validate_config(dict(model=old))
    # Built without the config check (e.g. by mmdet's init_detector on a chain config).
    with pytest.raises(RenamedError,
                       match="argument 'semantic_refiner' was renamed 'global_local_refiner'"):
        MODELS.build(old)


@pytest.mark.parametrize('old, new', [('semantic', 'global_local'), ('model', 'whole')])
def test_the_old_test_modes_are_refused_naming_the_new_ones(old, new):
    cfg = tiny_segrefiner_cfg('global_local')
    cfg['test_cfg']['mode'] = old
    with pytest.raises(RenamedError, match=f"test_cfg.mode '{old}' was renamed '{new}'"):
        MODELS.build(cfg)
    cfg['test_cfg']['mode'] = new
    assert MODELS.build(cfg).test_cfg['mode'] == new


def test_the_api_refuses_the_old_mode_naming_the_new_one():
    model = MODELS.build(tiny_segrefiner_cfg('global_local')).eval()
    image = np.zeros((40, 40, 3), np.uint8)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    with pytest.raises(RenamedError, match="mode 'semantic' was renamed 'global_local'"):
        refine(model, image, mask, mode='semantic')
    assert refine(model, image, mask, mode='global_local').shape == (40, 40)


def test_the_old_metric_type_is_refused_naming_the_new_one():
    with pytest.raises(ConfigKeyError,
                       match="test_evaluator: type 'HRMaskMetric' was renamed 'RefinedMaskMetric'"):
        validate_config(dict(test_evaluator=dict(type='HRMaskMetric', prefix='hr')))
    with pytest.raises(RenamedError, match="type 'HRMaskMetric' was renamed 'RefinedMaskMetric'"):
        METRICS.build(dict(type='HRMaskMetric'))
    assert isinstance(METRICS.build(dict(type='RefinedMaskMetric')), RefinedMaskMetric)


def test_a_misspelled_test_cfg_key_is_named_with_the_keys_that_exist():
    cfg = tiny_segrefiner_cfg('instance')
    cfg['test_cfg']['sede'] = 3
    with pytest.raises(ValueError, match=r"unknown test_cfg key 'sede'; did you mean 'seed'\? "
                       r'\(test_cfg takes: mode, seed, precision\)'):
        MODELS.build(cfg)


def test_tools_print_the_new_name_for_old_names(capsys, tmp_path):
    refine_tool = load_script('tools/refine.py')
    assert refine_tool.main(['image.png', 'mask.png', '--mode', 'semantic']) == 2
    err = capsys.readouterr().err
    assert "argument --mode: value 'semantic' was renamed 'global_local'" in err
    assert 'Traceback' not in err

    test_tool = load_script('tools/test.py')
    argv = [DEMO_CONFIG, 'none', '--work-dir', str(tmp_path),
            '--cfg-options', 'model.semantic_refiner.patch_size=32']
    assert test_tool.main(argv) == 1
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith('error: ')]
    assert error_lines and "'semantic_refiner' was renamed 'global_local_refiner'" in \
        error_lines[-1], err
    assert 'Traceback' not in err


@pytest.mark.parametrize('path', sorted(
    glob.glob(osp.join(REPO, 'configs/segrefiner/*.py')) +
    glob.glob(osp.join(REPO, 'configs/chains/*.py'))), ids=osp.basename)
def test_every_shipped_config_uses_the_current_test_mode(path):
    model = Config.fromfile(path).model
    model = model.get('refiner', model)  # a chain's refiner
    assert check_test_mode(model.get('test_cfg', {}).get('mode', 'whole')) in TEST_MODES
