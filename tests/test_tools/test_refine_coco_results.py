"""tools/refine_coco_results.py on a tiny COCO-format set in tmp_path: output
format, interrupted runs that resume without redoing images, inputs edited
between runs, the same masks as tools/test.py, bad input."""
import copy
import json
import mmcv
import numpy as np
import os
import os.path as osp
import pycocotools.mask as mask_utils
import pytest
import subprocess
import sys
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmseg_refiner.apis import coco_results_job
from mmseg_refiner.registry import MODELS
from mmseg_refiner.testing import TINY_DENOISER, load_script, randomize_

NUM_IMAGES = 5
SHAPE = (24, 32)


@pytest.fixture(scope='module')
def tool():
    return load_script('tools/refine_coco_results.py')


def _rle(mask):
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=encoded['size'], counts=encoded['counts'].decode())


@pytest.fixture(scope='module')
def tiny_set(tmp_path_factory):
    """5 images with 2 detections each, annotations, results with an extra key."""
    root = tmp_path_factory.mktemp('coco')
    rng = np.random.default_rng(0)
    os.makedirs(root / 'img')
    images, results = [], []
    for img_id in range(1, NUM_IMAGES + 1):
        mmcv.imwrite(
            rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8),
            str(root / 'img' / f'{img_id:04d}.jpg'))
        images.append(
            dict(id=img_id, file_name=f'{img_id:04d}.jpg', height=SHAPE[0], width=SHAPE[1]))
        big = np.zeros(SHAPE, np.uint8)
        big[4:20, 3 + img_id:25] = 1
        small = np.zeros(SHAPE, np.uint8)
        small[0:3, 0:3] = 1
        results.append(
            dict(
                image_id=img_id,
                category_id=5,
                score=0.9,
                bbox=[1, 2, 3, 4],
                segmentation=_rle(big),
                extra='kept as is'))
        results.append(
            dict(
                image_id=img_id, category_id=2, score=0.4 + img_id / 100, segmentation=_rle(small)))
    ann = dict(
        images=images, annotations=[], categories=[dict(id=2, name='a'),
                                                   dict(id=5, name='b')])
    (root / 'ann.json').write_text(json.dumps(ann))
    (root / 'results.json').write_text(json.dumps(results))
    return dict(
        results=str(root / 'results.json'),
        ann=str(root / 'ann.json'),
        img_dir=str(root / 'img'),
        records=results)


@pytest.fixture(scope='module')
def tiny_model_files(tmp_path_factory, repo_root):
    """A tiny SegRefiner config (from the shipped test config) and random weights."""
    root = tmp_path_factory.mktemp('model')
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs/segrefiner/segrefiner_unet-128_coco-results-refine.py'))
    cfg.model.denoiser = dict(TINY_DENOISER)
    cfg.model.model_size = 32
    cfg.model.instance_refiner.min_area = 100
    cfg.test_dataloader.batch_size = 2  # images per step: 5 images run as 2 + 2 + 1
    config_file = str(root / 'tiny.py')
    cfg.dump(config_file)
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        model = MODELS.build(copy.deepcopy(cfg.model))
    randomize_(model)
    checkpoint = str(root / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    return config_file, checkpoint


def _argv(tiny_set, tiny_model_files, out, *extra):
    return [
        tiny_set['results'], tiny_set['ann'], tiny_set['img_dir'], '--config', tiny_model_files[0],
        '--checkpoint', tiny_model_files[1], '--out',
        str(out), *extra
    ]


@pytest.fixture(scope='module')
def full_run(tool, tiny_set, tiny_model_files, tmp_path_factory):
    """An uninterrupted run: the reference output."""
    out = tmp_path_factory.mktemp('full') / 'refined.json'
    assert tool.main(_argv(tiny_set, tiny_model_files, out)) == 0
    return json.loads(out.read_text())


def _counting(tool, monkeypatch, fail_after=None, steps=None):
    """Wrap ``refine_images``: record image ids (and, into ``steps``, the images of each
    step); raise Ctrl-C at the first step after ``fail_after`` images."""
    monkeypatch.undo()  # drop an earlier wrapper
    seen = []
    original = coco_results_job.refine_images

    def wrapper(model, samples):
        if fail_after is not None and len(seen) >= fail_after:
            raise KeyboardInterrupt
        ids = [sample['data_samples'].img_id for sample in samples]
        seen.extend(ids)
        if steps is not None:
            steps.append(ids)
        return original(model, samples)

    monkeypatch.setattr(coco_results_job, 'refine_images', wrapper)
    return seen


def test_output_keeps_records_and_replaces_segmentations(full_run, tiny_set, tmp_path):
    records = tiny_set['records']
    assert len(full_run) == len(records)
    for out, ref in zip(full_run, records):
        assert {k: v for k, v in out.items() if k not in ('segmentation', 'refine_score')} == \
            {k: v for k, v in ref.items() if k != 'segmentation'}  # score unchanged
        assert 0.0 <= out['refine_score'] <= 1.0
        assert out['segmentation']['size'] == list(SHAPE)
        assert isinstance(out['segmentation']['counts'], str)
    # Detections under min_area (9 px) keep their coarse mask exactly (confidence 1).
    for out, ref in zip(full_run[1::2], records[1::2]):
        assert out['refine_score'] == 1.0
        assert np.array_equal(
            mask_utils.decode(out['segmentation']), mask_utils.decode(ref['segmentation']))
    # The large ones went through the (random) network: some pixels changed.
    changed = [
        (mask_utils.decode(out['segmentation']) != mask_utils.decode(ref['segmentation'])).sum()
        for out, ref in zip(full_run[0::2], records[0::2])
    ]
    assert sum(changed) > 0


def test_interrupted_run_resumes_without_redoing_images(tool, tiny_set, tiny_model_files, full_run,
                                                        tmp_path, monkeypatch):
    out = tmp_path / 'refined.json'
    progress = tmp_path / 'refined.json.progress.jsonl'
    seen = _counting(tool, monkeypatch, fail_after=2)
    assert tool.main(_argv(tiny_set, tiny_model_files, out)) == 130
    assert seen == [1, 2] and not out.exists()
    assert len(progress.read_text().splitlines()) == 1 + 2  # job line + 2 images

    # A crash in the middle of writing the next line leaves half a line behind.
    with open(progress, 'a') as f:
        f.write('{"name": "3", "key": "ab", "result": [{"si')
    seen = _counting(tool, monkeypatch)
    assert tool.main(_argv(tiny_set, tiny_model_files, out)) == 0
    assert seen == [3, 4, 5]
    assert json.loads(out.read_text()) == full_run  # per-sample seeds: same as one run

    seen = _counting(tool, monkeypatch)
    out.unlink()
    assert tool.main(_argv(tiny_set, tiny_model_files, out)) == 0
    assert seen == [] and json.loads(out.read_text()) == full_run  # from the log alone
    assert tool.main(_argv(tiny_set, tiny_model_files, out, '--overwrite')) == 0
    assert seen == [1, 2, 3, 4, 5]


def test_results_edited_between_runs_never_mix_masks(tool, tiny_set, tiny_model_files, tmp_path,
                                                     monkeypatch):
    """Interrupt, edit the results file in place, resume: every record gets its own mask."""
    results = tmp_path / 'results.json'
    records = copy.deepcopy(tiny_set['records'])
    results.write_text(json.dumps(records))
    argv = _argv(tiny_set, tiny_model_files, tmp_path / 'refined.json')
    argv[0] = str(results)
    seen = _counting(tool, monkeypatch, fail_after=3)
    assert tool.main(argv) == 130 and seen == [1, 2, 3, 4]  # two steps of 2 images

    # Drop image 1's small detection (every later record moves up one place) and
    # change the score of one of image 3's.
    del records[1]
    records[4]['score'] = 0.55
    results.write_text(json.dumps(records))
    seen = _counting(tool, monkeypatch)
    assert tool.main(argv) == 0
    assert seen == [1, 3, 5]  # images 2 and 4 are unchanged: reused
    resumed = json.loads((tmp_path / 'refined.json').read_text())

    fresh_argv = list(argv)
    fresh_argv[argv.index('--out') + 1] = str(tmp_path / 'fresh.json')
    assert tool.main(fresh_argv) == 0
    assert resumed == json.loads((tmp_path / 'fresh.json').read_text())
    assert [r['score'] for r in resumed] == [r['score'] for r in records]


def test_progress_of_another_job_is_refused(tool, tiny_set, tiny_model_files, tmp_path, monkeypatch,
                                            capsys):
    out = tmp_path / 'refined.json'
    _counting(tool, monkeypatch, fail_after=1)
    assert tool.main(_argv(tiny_set, tiny_model_files, out)) == 130
    assert tool.main(_argv(tiny_set, tiny_model_files, out, '--seed', '1')) == 1
    error = capsys.readouterr().err
    assert 'error: ' in error and 'another seed' in error and '--overwrite' in error
    # the run above used the config's precision ('auto'): fp32 results must not be mixed in
    assert tool.main(_argv(tiny_set, tiny_model_files, out, '--precision', 'fp32')) == 1
    error = capsys.readouterr().err
    assert 'error: ' in error and 'precision' in error and '--overwrite' in error


def test_results_naming_unknown_images_are_listed(tool, tiny_set, tiny_model_files, tmp_path,
                                                  capsys):
    bad = tmp_path / 'bad.json'
    records = copy.deepcopy(tiny_set['records'])
    records[3]['image_id'] = 77
    bad.write_text(json.dumps(records))
    argv = _argv(tiny_set, tiny_model_files, tmp_path / 'out.json')
    argv[0] = str(bad)
    assert tool.main(argv) == 1
    assert 'image ids not in the annotation file: 77' in capsys.readouterr().err
    assert not (tmp_path / 'out.json').exists()


def test_images_share_steps_and_the_results_do_not_depend_on_how_many(tool, tiny_set,
                                                                      tiny_model_files, full_run,
                                                                      tmp_path, monkeypatch):
    """The config's test_dataloader.batch_size images per step (their crops share network
    batches): 2 + 2 + 1 here; 1 and 5 per step give byte-identical results (masks and
    refine scores), in the default precision on either kind of CPU."""
    steps = []
    _counting(tool, monkeypatch, steps=steps)
    assert tool.main(_argv(tiny_set, tiny_model_files, tmp_path / 'two.json')) == 0
    assert steps == [[1, 2], [3, 4], [5]]
    assert json.loads((tmp_path / 'two.json').read_text()) == full_run
    for per_step in (1, 5):
        cfg = Config.fromfile(tiny_model_files[0])
        cfg.test_dataloader.batch_size = per_step
        config = str(tmp_path / f'per_step_{per_step}.py')
        cfg.dump(config)
        steps.clear()
        out = tmp_path / f'{per_step}.json'
        argv = _argv(tiny_set, (config, tiny_model_files[1]), out)
        assert tool.main(argv) == 0
        assert [len(step) for step in steps] == ([1] * 5 if per_step == 1 else [5])
        assert out.read_bytes() == (tmp_path / 'two.json').read_bytes()


def test_same_masks_as_tools_test_py_with_the_same_config(tiny_set, tiny_model_files, full_run,
                                                          tmp_path, repo_root):
    """The CLI and the Runner (tools/test.py, CocoMetric format_only) give byte-identical RLEs."""
    cfg = Config.fromfile(tiny_model_files[0])
    cfg.test_dataloader.dataset.update(
        data_root='',
        results_file=tiny_set['results'],
        ann_file=tiny_set['ann'],
        data_prefix=dict(img=tiny_set['img_dir']))
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.test_dataloader.batch_size = 2
    cfg.test_evaluator = dict(
        type='mmdet.CocoMetric',
        ann_file=tiny_set['ann'],
        metric='segm',
        format_only=True,
        outfile_prefix=str(tmp_path / 'runner'))
    config = str(tmp_path / 'runner_cfg.py')
    cfg.dump(config)
    proc = subprocess.run([
        sys.executable, 'tools/test.py', config, tiny_model_files[1], '--work-dir',
        str(tmp_path / 'work')
    ],
                          cwd=repo_root,
                          capture_output=True,
                          text=True,
                          timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=repo_root))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    runner = json.loads((tmp_path / 'runner.segm.json').read_text())
    by_key = {(r['image_id'], r['category_id']): r['segmentation'] for r in runner}
    assert len(by_key) == len(full_run)
    for record in full_run:
        assert by_key[(record['image_id'], record['category_id'])] == record['segmentation']


def test_refine_score_is_the_mask_confidence_and_rescore_multiplies(tool, tiny_set,
                                                                    tiny_model_files, full_run,
                                                                    tmp_path):
    """refine_score against an independent computation: the tool's model refining the same
    mask through the API, its probability's mean |2p - 1| in the 3-px band of its mask."""
    from mmseg_refiner.apis import init_refiner, refine
    from mmseg_refiner.models.refiners.confidence import refinement_confidence
    model = init_refiner(tiny_model_files[0], tiny_model_files[1], device='cpu')
    record = tiny_set['records'][0]
    image = osp.join(tiny_set['img_dir'], f'{record["image_id"]:04d}.jpg')
    mask, prob = refine(
        model, image, mask_utils.decode(record['segmentation']), mode='instance', return_probs=True)
    assert np.array_equal(mask, mask_utils.decode(full_run[0]['segmentation']))
    expected = refinement_confidence(torch.from_numpy(prob)).item()
    assert abs(full_run[0]['refine_score'] - expected) < 1e-5
    out = tmp_path / 'rescored.json'
    assert tool.main(_argv(tiny_set, tiny_model_files, out, '--rescore')) == 0
    for rescored, plain, ref in zip(json.loads(out.read_text()), full_run, tiny_set['records']):
        assert rescored['score'] == pytest.approx(ref['score'] * plain['refine_score'])
        assert rescored['segmentation'] == plain['segmentation']
