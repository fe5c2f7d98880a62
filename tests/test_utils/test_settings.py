"""Numeric settings of the refiners, the diffusion, the metrics, the datasets and the coarse
mask synthesis are checked for type and range when built, naming the module and the key; the
tools refuse option values that make their figures meaningless, before any work."""
import math
import numpy as np
import pytest

from mmseg_refiner.datasets import SyntheticRefineDataset
from mmseg_refiner.datasets.coarse_mask_synthesis import CoarseMaskOptions
from mmseg_refiner.evaluation.metrics import RefinedMaskMetric
from mmseg_refiner.models.diffusion import DiscreteMaskDiffusion
from mmseg_refiner.models.refiners import GlobalLocalRefiner, InstanceRefiner
from mmseg_refiner.testing import DEMO_CONFIG, load_script
from mmseg_refiner.utils.settings import SettingError, check_float, check_int

BAD_FRACTIONS = [math.nan, 1.5, -1, 'abc', math.inf, True]


@pytest.mark.parametrize('value', BAD_FRACTIONS)
@pytest.mark.parametrize('build,key', [
    (InstanceRefiner, 'refined_threshold'),
    (InstanceRefiner, 'coarse_threshold'),
    (GlobalLocalRefiner, 'threshold'),
    (GlobalLocalRefiner, 'fine_prob_ratio'),
    (GlobalLocalRefiner, 'nms_iou_thr'),
])
def test_fractions_are_refused_out_of_0_1_naming_the_key(build, key, value):
    with pytest.raises(SettingError, match=f'{build.__name__}: {key} must be'):
        build(**{key: value})


@pytest.mark.parametrize('value', ['abc', 0, -1, 2.5, math.nan, None])
@pytest.mark.parametrize('build,key', [
    (InstanceRefiner, 'batch_size'),
    (GlobalLocalRefiner, 'batch_size'),
    (GlobalLocalRefiner, 'patch_size'),
    (DiscreteMaskDiffusion, 'num_timesteps'),
    (SyntheticRefineDataset, 'num_samples'),
])
def test_counts_are_refused_unless_positive_integers(build, key, value):
    if build is SyntheticRefineDataset and value == 0:
        return  # an empty synthetic set is allowed
    with pytest.raises(SettingError, match=f'{build.__name__}: {key} must be an integer'):
        build(**{key: value})


@pytest.mark.parametrize('kwargs,key', [
    (dict(min_area=-1), 'min_area'),
    (dict(box_padding='abc'), 'box_padding'),
    (dict(timesteps=(3, 'x')), r'timesteps\[1\]'),
])
def test_instance_refiner_sizes(kwargs, key):
    with pytest.raises(SettingError, match=f'InstanceRefiner: {key}'):
        InstanceRefiner(**kwargs)


def test_metric_and_synthesis_settings():
    for kwargs in (dict(num_radii=0), dict(min_radius=-1), dict(radius_divisor=0),
                   dict(radius_divisor=math.nan)):
        with pytest.raises(SettingError, match=f'RefinedMaskMetric: {next(iter(kwargs))}'):
            RefinedMaskMetric(**kwargs)
    for kwargs in (dict(iou_target=2), dict(dilate_prob=math.nan), dict(max_rounds='abc')):
        with pytest.raises(SettingError, match=f'coarse-mask synthesis: {next(iter(kwargs))}'):
            CoarseMaskOptions(**kwargs)


def test_good_values_pass_and_come_back_as_python_numbers():
    assert check_int('M', 'k', np.int64(3), low=1) == 3
    assert type(check_int('M', 'k', 32.0)) is int
    assert check_float('M', 'k', np.float32(0.5), 0, 1) == 0.5
    refiner = InstanceRefiner(refined_threshold=1, batch_size=np.int64(4))
    assert refiner.refined_threshold == 1.0 and refiner.batch_size == 4


refine_tool = load_script('tools/refine.py')


@pytest.mark.parametrize('option,words', [
    ('model.instance_refiner.refined_threshold=nan', 'refined_threshold'),
    ('model.instance_refiner.refined_threshold=1.5', 'refined_threshold'),
    ('model.global_local_refiner.threshold=nan', 'threshold'),
    ('model.global_local_refiner.fine_prob_ratio=nan', 'fine_prob_ratio'),
    ('model.instance_refiner.min_area=-1', 'min_area'),
    ('model.instance_refiner.batch_size=abc', 'batch_size'),
    ('model.global_local_refiner.nms_iou_thr=abc', 'nms_iou_thr'),
])
def test_a_tool_answers_a_bad_setting_with_one_line_naming_it(option, words, tmp_path, capsys):
    status = refine_tool.main([
        'demo/image.png', 'demo/coarse_mask.png', '--out',
        str(tmp_path / 'o.png'), '--config', DEMO_CONFIG, '--checkpoint',
        'demo/segrefiner_demo.pth', '--cfg-options', option
    ])
    err = capsys.readouterr().err
    assert status == 1 and 'Traceback' not in err
    [line] = [line for line in err.splitlines() if line.startswith('error: ')]
    assert words in line and 'must be' in line, line
    assert not (tmp_path / 'o.png').exists()


eval_folders = load_script('tools/analysis_tools/eval_mask_folders.py')
eval_instances = load_script('tools/analysis_tools/eval_instance_results.py')
make_coarse = load_script('tools/dataset_converters/make_hr_coarse_masks.py')


@pytest.mark.parametrize('tool,args,words', [
    (eval_folders, ['--num-radii', '0'], '--num-radii'),
    (eval_folders, ['--radius-divisor', '0'], '--radius-divisor'),
    (eval_folders, ['--radius-divisor', 'nan'], '--radius-divisor'),
    (eval_folders, ['--min-radius', '-2'], '--min-radius'),
    (eval_folders, ['--nproc', '0'], '--nproc'),
    (eval_instances, ['--dilation-ratio', 'nan'], 'dilation_ratio'),
    (eval_instances, ['--dilation-ratio', '0'], 'dilation_ratio'),
    (eval_instances, ['--dilation-ratio', '1.5'], 'dilation_ratio'),
    (eval_instances, ['--max-dets', '0'], '--max-dets'),
    (eval_instances, ['--nproc', '-1'], 'nproc'),
    (make_coarse, ['--iou-target', '2'], 'iou_target'),
    (make_coarse, ['--nproc', '0'], '--nproc'),
])
def test_evaluation_tools_refuse_meaningless_options_before_any_work(tool, args, words, tmp_path,
                                                                     capsys):
    (tmp_path / 'gt').mkdir()
    (tmp_path / 'pred').mkdir()
    (tmp_path / 'gt.json').write_text('{}')
    (tmp_path / 'res.json').write_text('[]')
    base = {
        eval_folders:
        ['--gt', tmp_path / 'gt', '--pred', tmp_path / 'pred', '--out', tmp_path / 'm.json'],
        eval_instances: [
            tmp_path / 'gt.json', tmp_path / 'res.json', '--protocol', 'lvis', '--out',
            tmp_path / 'm.json'
        ],
        make_coarse: [tmp_path / 'gt', tmp_path / 'coarse'],
    }[tool]
    status = tool.main([str(a) for a in base] + args)
    err = capsys.readouterr().err
    assert status != 0 and 'Traceback' not in err, err
    [line] = [line for line in err.splitlines() if line.startswith('error: ')]
    assert words in line, line
    assert not (tmp_path / 'm.json').exists() and not (tmp_path / 'coarse').exists()
