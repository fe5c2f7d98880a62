"""tools/analysis_tools/eval_synthetic_heldout.py: side-by-side runs on held-out samples with the
demo model, and --timesteps applied to the refiner of the mode that runs."""
import json

from mmseg_refiner.testing import load_script

heldout = load_script('tools/analysis_tools/eval_synthetic_heldout.py')


def test_runs_side_by_side_share_samples_and_the_first_agrees_with_itself(tmp_path, capsys):
    out = tmp_path / 'heldout.json'
    assert heldout.main([
        '--num', '2', '--size', '64', '--mode', 'instance', '--precision', 'fp32', '--timesteps',
        '5,4,3,2,1,0', '5,3,0', '--out',
        str(out)
    ]) == 0
    printed = capsys.readouterr().out
    assert '--mode instance' in printed and 'precision fp32, steps 5,3,0' in printed
    runs = json.loads(out.read_text())['runs']
    assert [run['timesteps'] for run in runs] == [[5, 4, 3, 2, 1, 0], [5, 3, 0]]
    assert runs[0]['agreement_mean_iou'] == 1.0
    assert [s['coarse_iou'] for s in runs[0]['samples']] == \
        [s['coarse_iou'] for s in runs[1]['samples']]  # the same coarse masks
    assert 0.0 <= runs[1]['agreement_mean_iou'] <= 1.0


def test_timesteps_errors_name_the_refiner_of_the_mode(capsys):
    assert heldout.main(['--num', '1', '--size', '64', '--mode', 'instance', '--timesteps',
                         '5,7']) == 1
    err = capsys.readouterr().err
    assert 'instance_refiner.timesteps' in err and 'global' not in err, err
    assert heldout.main(
        ['--num', '1', '--size', '64', '--mode', 'global_local', '--timesteps', '0']) == 2
    assert 'the global-local mode needs at least 2 steps' in capsys.readouterr().err


def test_early_stop_stays_within_its_tolerance_of_the_full_run(tmp_path):
    """The first 12 samples of the held-out set the README measures (256 px, demo model): the
    default early stop runs fewer steps and no sample loses more than 0.01 IoU to the full
    6-step run (measured on all 50: 2.44 steps per mask, worst -0.0027)."""
    out = tmp_path / 'early.json'
    assert heldout.main(
        ['--num', '12', '--precision', 'fp32', '--early-stop', 'none', '0.005', '--out',
         str(out)]) == 0
    full, early = json.loads(out.read_text())['runs']
    assert full['early_stop'] is None and early['early_stop'] == dict(max_changed=0.005)
    assert full['network_rows_per_sample'] == 6.0
    assert early['network_rows_per_sample'] < 4.0
    assert early['worst_iou_vs_first'] >= -0.01
    for a, b in zip(full['samples'], early['samples']):
        assert b['iou'] >= a['iou'] - 0.01, (a, b)


def test_guard_runs_are_compared_side_by_side(tmp_path, capsys):
    out = tmp_path / 'guard.json'
    assert heldout.main([
        '--num', '2', '--size', '64', '--mode', 'instance', '--precision', 'fp32', '--guard',
        'none', 'distance=2,components', '--out',
        str(out)
    ]) == 0
    assert 'guard distance=2.0,drop_new_components=True' in capsys.readouterr().out
    free, guarded = json.loads(out.read_text())['runs']
    assert free['max_change'] is None
    assert guarded['max_change'] == dict(distance=2.0, drop_new_components=True)
    assert guarded['agreement_mean_iou'] <= 1.0 and 'worst_iou_change' in guarded
    assert heldout.main(['--num', '1', '--guard', 'distance']) == 2
