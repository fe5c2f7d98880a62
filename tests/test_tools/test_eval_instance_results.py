"""tools/analysis_tools/eval_instance_results.py on tiny COCO / LVIS files in tmp_path."""
import json
import os.path as osp
import pytest
import subprocess
import sys

from mmseg_refiner.testing import load_script


@pytest.fixture(scope='module')
def cli():
    return load_script('tools/analysis_tools/eval_instance_results.py')


@pytest.fixture(scope='module')
def data():
    """The evaluation tests' builders (tests/test_evaluation/instance_data.py)."""
    return load_script('tests/test_evaluation/instance_data.py', 'instance_data_for_tools')


@pytest.fixture
def files(data, tmp_path):
    gt, results, mask_ap, boundary_ap = data.perfect_and_shifted()
    return dict(
        coco=data.write_json(tmp_path / 'coco.json', gt),
        lvis=data.write_json(tmp_path / 'lvis.json', data.lvis_gt(gt)),
        results=data.write_json(tmp_path / 'results.json', results),
        mask_ap=mask_ap,
        boundary_ap=boundary_ap)


@pytest.mark.parametrize('protocol', ['coco', 'lvis'])
def test_writes_segm_and_boundary_ap(cli, files, tmp_path, capsys, protocol):
    out = tmp_path / f'{protocol}_metrics.json'  # not the ground truth's own name
    code = cli.main([
        files[protocol], files['results'], '--protocol', protocol, '--iou-type', 'segm', 'boundary',
        '--out',
        str(out), '--nproc', '1'
    ])
    assert code == 0
    metrics = json.loads(out.read_text())
    assert metrics['segm_AP'] == pytest.approx(files['mask_ap'])
    assert metrics['boundary_AP'] == pytest.approx(files['boundary_ap'])
    expected = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl']
    if protocol == 'lvis':
        expected += ['APr', 'APc', 'APf']
    assert sorted(metrics) == sorted(f'{t}_{k}' for t in ('segm', 'boundary') for k in expected)
    assert 'Average Precision' in capsys.readouterr().out  # the protocol's own summary


def test_results_naming_unknown_images_and_categories(cli, data, files, tmp_path, capsys):
    results = json.load(open(files['results']))
    for image_id in range(100, 115):
        results.append(dict(results[0], image_id=image_id))
    results.append(dict(results[0], category_id=7))
    bad = data.write_json(tmp_path / 'bad.json', results)
    out = tmp_path / 'm.json'
    code = cli.main([files['coco'], bad, '--protocol', 'coco', '--out', str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert bad in err
    assert '15 results name image ids absent from' in err
    assert '100, 101, 102' in err and '(15 distinct)' in err and '...' in err
    assert '1 results name category ids absent' in err and '7 (1 distinct)' in err
    assert not out.exists()


def test_unreadable_and_malformed_files_are_named(cli, files, tmp_path, capsys):
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [')
    assert cli.main(
        [str(broken), files['results'], '--protocol', 'coco', '--out',
         str(tmp_path / 'm.json')]) == 1
    assert f'ground truth {broken} is not valid JSON' in capsys.readouterr().err
    assert cli.main(
        [files['coco'],
         str(broken), '--protocol', 'lvis', '--out',
         str(tmp_path / 'm.json')]) == 1
    err = capsys.readouterr().err
    assert 'is not LVIS-format' in err and files['coco'] in err
    no_masks = tmp_path / 'boxes.json'
    no_masks.write_text(json.dumps([dict(image_id=1, category_id=1, bbox=[0, 0, 4, 4], score=0.5)]))
    assert cli.main(
        [files['coco'],
         str(no_masks), '--protocol', 'coco', '--out',
         str(tmp_path / 'm.json')]) == 1
    assert f'{no_masks}: record 0 lacks segmentation' in capsys.readouterr().err


def test_runs_as_a_script(repo_root, files, tmp_path):
    out = tmp_path / 'script.json'
    script = osp.join(repo_root, 'tools', 'analysis_tools', 'eval_instance_results.py')
    proc = subprocess.run([
        sys.executable, script, files['lvis'], files['results'], '--protocol', 'lvis', '--out',
        str(out), '--nproc', '2'
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())['boundary_AP'] == pytest.approx(files['boundary_ap'])
