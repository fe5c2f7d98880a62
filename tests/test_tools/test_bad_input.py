"""Every tool answers bad input with ``error: <which file / record / key>`` and a non-zero
status before any work starts, without a traceback, and leaves its inputs byte-identical."""
import copy
import cv2
import hashlib
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

from mmseg_refiner.apis import coco_results_job, init_refiner
from mmseg_refiner.testing import DEMO_CONFIG, REPO_ROOT, TINY_DEMO_OPTIONS, load_script

COCO_CONFIG = osp.join(REPO_ROOT, 'configs/segrefiner/segrefiner_unet-128_coco-results-refine.py')
TINY_OPTIONS = {
    **TINY_DEMO_OPTIONS,
    'test_dataloader.dataset.num_samples': 2,
    'test_dataloader.dataset.image_size': [64, 64],
}

refine_tool = load_script('tools/refine.py')
coco_tool = load_script('tools/refine_coco_results.py')
eval_tool = load_script('tools/analysis_tools/eval_instance_results.py')
convert_tool = load_script('tools/model_converters/convert_official_checkpoint.py')
test_tool = load_script('tools/test.py')
train_tool = load_script('tools/train.py')


def _digest(path):
    """SHA-256 of a file, or of every file under a folder (by relative name)."""
    path = str(path)
    if osp.isdir(path):
        return {name: _digest(osp.join(path, name)) for name in sorted(os.listdir(path))}
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _fails(main, argv, capsys, words, inputs=(), status=None):
    """Run ``main(argv)``: non-zero exit, one ``error:`` naming ``words``, inputs unchanged."""
    before = [_digest(p) for p in inputs]
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code != 0 if status is None else code == status, err
    assert 'Traceback' not in err
    error_lines = [line for line in err.splitlines() if line.startswith('error: ')]
    assert error_lines, err
    for word in words:
        assert str(word) in error_lines[-1], error_lines[-1]
    assert [_digest(p) for p in inputs] == before
    return error_lines[-1]


@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    """A tiny model config file, its random weights and broken variants of them."""
    root = tmp_path_factory.mktemp('model')
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(TINY_OPTIONS)
    config = str(root / 'tiny.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = init_refiner(config)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.2)
    coco_cfg = Config.fromfile(COCO_CONFIG)  # the same model, reading COCO results
    coco_cfg.model = cfg.model
    coco_cfg.test_dataloader.batch_size = 1  # one image per step: interrupted between images
    coco_config = str(root / 'tiny_coco.py')
    coco_cfg.dump(coco_config)
    files = dict(config=config, coco_config=coco_config, ckpt=str(root / 'tiny.pth'))
    torch.save({'state_dict': model.state_dict()}, files['ckpt'])
    data = open(files['ckpt'], 'rb').read()
    (root / 'text.pth').write_text('<html>404 Not Found</html>\n')
    (root / 'empty.pth').write_bytes(b'')
    (root / 'truncated.pth').write_bytes(data[:len(data) // 2])
    for name, value in (('nan', float('nan')), ('inf', float('inf'))):
        state = {k: v.clone() for k, v in model.state_dict().items()}
        state['denoiser.output_head.2.bias'].fill_(value)
        torch.save({'state_dict': state}, root / f'{name}.pth')
    other = init_refiner(DEMO_CONFIG, cfg_options={'model.model_size': 32})
    torch.save({'state_dict': other.state_dict()}, root / 'other.pth')
    for name in ('text', 'empty', 'truncated', 'nan', 'inf', 'other'):
        files[name] = str(root / f'{name}.pth')
    return files


@pytest.fixture
def folders(tmp_path):
    """An image folder and a mask folder with two pairs."""
    images, masks = tmp_path / 'img', tmp_path / 'mask'
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for stem in ('a', 'b'):
        cv2.imwrite(str(images / f'{stem}.jpg'), rng.integers(0, 256, (40, 56, 3), np.uint8))
        mask = np.zeros((40, 56), np.uint8)
        mask[5:30, 8:40] = 255
        cv2.imwrite(str(masks / f'{stem}.png'), mask)
    return images, masks


def _model(files, checkpoint='ckpt'):
    return ['--config', files['config'], '--checkpoint', files[checkpoint]]


# ------------------------------------------------------------- never harm inputs (refine.py)
@pytest.mark.parametrize('where, relation', [
    ('img', 'is the input folder'),
    ('mask', 'is the input folder'),
    ('img/refined', 'lies inside the input folder'),
    ('.', 'contains the input folder'),
])
def test_refine_refuses_an_output_folder_among_the_inputs(folders, model_files, capsys, where,
                                                          relation):
    images, masks = folders
    out = images.parent / where
    _fails(
        refine_tool.main, [images, masks, '--out', out, '--overwrite', *_model(model_files)],
        capsys, ['--out', relation],
        inputs=[images, masks],
        status=2)
    assert not (images / 'refined').exists()


def test_refine_lists_name_clashes(folders, model_files, capsys):
    images, masks = folders
    cv2.imwrite(str(images / 'a.png'), cv2.imread(str(images / 'a.jpg')))
    out = images.parent / 'out'
    _fails(
        refine_tool.main, [images, masks, '--out', out, *_model(model_files)],
        capsys, ['a.jpg and a.png', 'share a name'],
        inputs=[images, masks],
        status=1)
    assert not out.exists()


def test_refine_refuses_vis_folder_equal_to_out(folders, model_files, capsys):
    images, masks = folders
    out = images.parent / 'out'
    _fails(
        refine_tool.main, [images, masks, '--out', out, '--vis', out, *_model(model_files)],
        capsys, ['--vis', 'would write over each other', 'out'],
        inputs=[images, masks],
        status=2)


def test_refine_single_out_is_the_image(folders, model_files, capsys):
    images, masks = folders
    _fails(
        refine_tool.main,
        [images / 'a.jpg', masks / 'a.png', '--out', masks / 'a.png', *_model(model_files)],
        capsys, ['a.png', 'is the input'],
        inputs=[images, masks],
        status=2)


def test_refine_single_out_is_an_existing_directory(folders, model_files, capsys):
    images, masks = folders
    _fails(
        refine_tool.main,
        [images / 'a.jpg', masks / 'a.png', '--out', images.parent, *_model(model_files)],
        capsys, ['is an existing directory'],
        inputs=[images, masks],
        status=2)


def test_refine_single_out_parent_is_a_file(folders, model_files, capsys):
    images, masks = folders
    _fails(
        refine_tool.main, [
            images / 'a.jpg', masks / 'a.png', '--out', images / 'a.jpg' / 'x.png',
            *_model(model_files)
        ],
        capsys, ['a.jpg is a file, not a folder'],
        inputs=[images],
        status=2)


def test_convert_refuses_to_overwrite_its_input(model_files, capsys):
    _fails(
        convert_tool.main, [model_files['ckpt'], model_files['ckpt']],
        capsys, ['tiny.pth is the input'],
        inputs=[model_files['ckpt']],
        status=2)


def test_convert_refuses_a_directory_output(model_files, tmp_path, capsys):
    _fails(
        convert_tool.main, [model_files['ckpt'], tmp_path],
        capsys, ['is an existing directory'],
        inputs=[model_files['ckpt']],
        status=2)


# ------------------------------------------------------------------------------ checkpoints
@pytest.mark.parametrize('name, words', [
    ('text', ['text.pth', 'not a PyTorch checkpoint']),
    ('empty', ['empty.pth', 'is empty (0 bytes)']),
    ('truncated', ['truncated.pth', 'truncated or corrupt']),
    ('nan', ['nan.pth', 'NaN or Inf', 'denoiser.output_head.2.bias']),
    ('inf', ['inf.pth', 'NaN or Inf', 'denoiser.output_head.2.bias']),
    ('other', [
        'other.pth', 'does not fit the model', 'of different size',
        'denoiser.time_embedding.weight (6, 64) vs (6, 32)'
    ]),
])
def test_refine_refuses_bad_checkpoints(folders, model_files, capsys, name, words):
    images, masks = folders
    out = images.parent / 'out.png'
    _fails(
        refine_tool.main,
        [images / 'a.jpg', masks / 'a.png', '--out', out, *_model(model_files, name)],
        capsys,
        words,
        inputs=[model_files[name]],
        status=1)
    assert not out.exists()


def test_refine_refuses_a_missing_checkpoint(folders, model_files, capsys):
    images, masks = folders
    _fails(refine_tool.main, [
        images / 'a.jpg', masks / 'a.png', '--out', images.parent / 'o.png', '--config',
        model_files['config'], '--checkpoint', images.parent / 'nope.pth'
    ], capsys, ['nope.pth does not exist'])


def test_refine_refuses_foreign_code_and_runs_none(folders, model_files, tmp_path, capsys):
    images, masks = folders
    marker = tmp_path / 'PWNED'

    class Payload:

        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': torch.load(model_files['ckpt'])['state_dict'], 'x': Payload()}, evil)
    _fails(
        refine_tool.main, [
            images / 'a.jpg', masks / 'a.png', '--out', tmp_path / 'o.png', '--config',
            model_files['config'], '--checkpoint', evil
        ],
        capsys, ['refused to load', 'evil.pth'],
        inputs=[evil],
        status=1)
    assert not marker.exists()


def test_test_tool_loads_strictly(model_files, tmp_path):
    """Through the command line (the Runner's logger outlives an in-process run). NaN and the
    other checks run through the same ``load_weights`` call."""
    name, words = 'other', ['other.pth', 'does not fit the model SegRefiner', 'of different size']
    before = _digest(model_files[name])
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'test.py'), model_files['config'], model_files[name],
        '--work-dir',
        str(tmp_path)
    ],
                          capture_output=True,
                          text=True,
                          timeout=300,
                          env=dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1'))
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: checkpoint ') and all(w in last for w in words), last
    assert _digest(model_files[name]) == before


# --------------------------------------------------------------------- devices and settings
def _single(folders, model_files, *extra):
    images, masks = folders
    return [
        images / 'a.jpg', masks / 'a.png', '--out', images.parent / 'o.png', *_model(model_files),
        *extra
    ]


@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has CUDA')
def test_device_cuda_without_cuda(folders, model_files, capsys):
    _fails(
        refine_tool.main,
        _single(folders, model_files, '--device', 'cuda'),
        capsys, ['--device cuda: this machine has no cuda device', '--device cpu'],
        status=2)


def test_unknown_device(folders, model_files, capsys):
    _fails(
        refine_tool.main,
        _single(folders, model_files, '--device', 'gpu'),
        capsys, ["--device 'gpu' is not a device torch knows"],
        status=2)


@pytest.mark.parametrize('seed', [-1, 2**64])
def test_seed_out_of_range(folders, model_files, capsys, seed):
    _fails(
        refine_tool.main,
        _single(folders, model_files, '--seed', seed),
        capsys, [f'--seed {seed} is out of range'],
        status=2)


def test_misspelled_model_key_in_cfg_options(folders, model_files, capsys):
    _fails(
        refine_tool.main,
        _single(folders, model_files, '--cfg-options', 'model.denoiser.model_chanels=8'),
        capsys, ["model.denoiser: unknown key 'model_chanels'", "'model_channels'"],
        status=1)


def test_unknown_top_level_key_in_cfg_options(model_files, tmp_path, capsys):
    _fails(
        test_tool.main, [
            model_files['config'], model_files['ckpt'], '--work-dir', tmp_path, '--cfg-options',
            'optim_wraper.optimizer.lr=1'
        ],
        capsys, ["optim_wraper' is not a key", "did you mean 'optim_wrapper'"],
        status=1)


def test_misspelled_dataloader_key_in_cfg_options(model_files, tmp_path, capsys):
    _fails(
        test_tool.main, [
            model_files['config'], model_files['ckpt'], '--work-dir', tmp_path, '--cfg-options',
            'test_dataloader.batch_sise=2'
        ],
        capsys, ["test_dataloader: unknown key 'batch_sise'", 'batch_size'],
        status=1)


def test_train_refuses_a_misspelled_top_level_key_in_the_config(model_files, tmp_path, capsys):
    cfg = Config.fromfile(model_files['config'])
    cfg['optim_wraper'] = dict(cfg.optim_wrapper)
    path = tmp_path / 'typo.py'
    cfg.dump(str(path))
    _fails(
        train_tool.main, [path, '--work-dir', tmp_path / 'work'],
        capsys,
        ['typo.py', "'optim_wraper' is not read by the Runner; did you mean 'optim_wrapper'"],
        inputs=[path],
        status=1)
    assert not (tmp_path / 'work').exists()  # refused before the Runner was built


# ------------------------------------------------------------------------------ COCO results
SHAPE = (24, 32)


@pytest.fixture
def coco_set(tmp_path):
    """Two images with two detections each, their annotation file and results file."""
    rng = np.random.default_rng(0)
    (tmp_path / 'img').mkdir()
    images, records, anns = [], [], []
    for img_id in (1, 2):
        mmcv.imwrite(
            rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8),
            str(tmp_path / 'img' / f'{img_id}.jpg'))
        images.append(dict(id=img_id, file_name=f'{img_id}.jpg', height=SHAPE[0], width=SHAPE[1]))
        for n, (y0, x0) in enumerate(((2, 3), (10, 12))):
            mask = np.zeros(SHAPE, np.uint8)
            mask[y0:y0 + 10, x0:x0 + 12 + img_id] = 1
            rle = mask_utils.encode(np.asfortranarray(mask))
            seg = dict(size=rle['size'], counts=rle['counts'].decode())
            records.append(
                dict(
                    image_id=img_id,
                    category_id=1,
                    score=0.9 - 0.1 * n,
                    bbox=[x0, y0, 12 + img_id, 10],
                    segmentation=seg))
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=img_id,
                    category_id=1,
                    iscrowd=0,
                    area=float(mask.sum()),
                    bbox=[x0, y0, 12 + img_id, 10],
                    segmentation=seg))
    (tmp_path / 'ann.json').write_text(
        json.dumps(dict(images=images, annotations=anns, categories=[dict(id=1, name='thing')])))
    return dict(root=tmp_path, ann=tmp_path / 'ann.json', img=tmp_path / 'img', records=records)


def _results(coco_set, mutate=None, text=None, name='results.json'):
    records = copy.deepcopy(coco_set['records'])
    if mutate is not None:
        mutate(records)
    path = coco_set['root'] / name
    path.write_text(text if text is not None else json.dumps(records))
    return path


def _coco_argv(coco_set, results, model_files, out='refined.json', *extra):
    return [
        results, coco_set['ann'], coco_set['img'], '--config', model_files['coco_config'],
        '--checkpoint', model_files['ckpt'], '--out', coco_set['root'] / out, *extra
    ]


def _set_rle(index, counts):
    return lambda records: records[index]['segmentation'].update(counts=counts)


BAD_RECORDS = {
    'nan score': (dict(text=lambda r: json.dumps(r).replace('0.9', 'NaN', 1)),
                  ['record 0, score: nan is not a finite number']),
    'inf score': (dict(text=lambda r: json.dumps(r).replace('0.9', 'Infinity', 1)),
                  ['record 0, score: inf is not a finite number']),
    'string score':
    (dict(mutate=lambda r: r[2].update(score='0.7')), ["record 2, score is the string '0.7'"]),
    'bbox of 3 numbers': (dict(mutate=lambda r: r[1].update(bbox=[1, 2, 3])),
                          ['record 1, bbox must be [x, y, width, height] (4 numbers)']),
    'string image id': (dict(mutate=lambda r: r[3].update(image_id='2')),
                        ["record 3, image_id is the string '2'", 'write 2']),
    'truncated rle':
    (dict(mutate=lambda r: r[0]['segmentation'].update(counts=r[0]['segmentation']['counts'][:4])),
     ['record 0, segmentation: RLE counts cover']),
    'garbage rle':
    (dict(mutate=_set_rle(1, 'garbage~~')), ['record 1, segmentation: compressed RLE counts hold']),
    'short polygon': (dict(mutate=lambda r: r[2].update(segmentation=[[1, 1, 9, 9]])),
                      ['record 2, segmentation: polygon 0 has 4 numbers']),
}


def _bad_results(coco_set, kind):
    how, words = BAD_RECORDS[kind]
    if 'text' in how:
        return _results(coco_set, text=how['text'](copy.deepcopy(coco_set['records']))), words
    return _results(coco_set, how['mutate']), words


@pytest.mark.parametrize('kind', sorted(BAD_RECORDS))
def test_refine_coco_results_refuses_bad_records_before_work(coco_set, model_files, capsys,
                                                             monkeypatch, kind):
    results, words = _bad_results(coco_set, kind)
    monkeypatch.setattr(coco_tool, 'init_refiner', lambda *a, **k: pytest.fail('model built'))
    _fails(
        coco_tool.main,
        _coco_argv(coco_set, results, model_files),
        capsys, ['results.json', *words],
        inputs=[results],
        status=1)
    assert not (coco_set['root'] / 'refined.json').exists()


@pytest.mark.parametrize(
    'kind', ['nan score', 'string score', 'string image id', 'truncated rle', 'garbage rle'])
def test_eval_instance_results_refuses_bad_records(coco_set, capsys, kind):
    results, words = _bad_results(coco_set, kind)
    out = coco_set['root'] / 'metrics.json'
    _fails(
        eval_tool.main, [coco_set['ann'], results, '--protocol', 'coco', '--out', out],
        capsys, ['results.json', *words],
        inputs=[results],
        status=1)
    assert not out.exists()


def test_eval_instance_results_box_evaluation_checks_boxes(coco_set, capsys):
    results, words = _bad_results(coco_set, 'bbox of 3 numbers')
    _fails(
        eval_tool.main, [
            coco_set['ann'], results, '--protocol', 'coco', '--iou-type', 'bbox', '--out',
            coco_set['root'] / 'm.json'
        ],
        capsys,
        words,
        inputs=[results],
        status=1)


def test_refine_coco_results_empty_list_writes_empty_list(coco_set, model_files, capsys):
    results = _results(coco_set, text='[]')
    out = coco_set['root'] / 'refined.json'
    assert coco_tool.main([str(a) for a in _coco_argv(coco_set, results, model_files)]) == 0
    assert json.loads(out.read_text()) == []
    assert not osp.exists(f'{out}.progress.jsonl')


def test_refine_coco_results_batch_size_zero(coco_set, model_files, capsys):
    results = _results(coco_set)
    _fails(
        coco_tool.main,
        _coco_argv(coco_set, results, model_files, 'refined.json', '--batch-size', '0'),
        capsys, ['--batch-size must be a positive integer'],
        inputs=[results],
        status=2)


@pytest.mark.parametrize('out, words', [('results.json', 'is the input'),
                                        ('img', 'is an existing directory')])
def test_refine_coco_results_bad_out(coco_set, model_files, capsys, out, words):
    results = _results(coco_set)
    _fails(
        coco_tool.main,
        _coco_argv(coco_set, results, model_files, out),
        capsys, ['--out', words],
        inputs=[results, coco_set['img']],
        status=2)


def test_edited_results_after_an_interruption_never_get_another_detections_mask(
        coco_set, model_files, capsys, monkeypatch):
    """Interrupted, then the results file is edited in place (a detection removed, so every
    later record moves up), then re-run: each output record must carry its own refinement."""
    results = _results(coco_set)
    out = coco_set['root'] / 'refined.json'
    argv = [str(a) for a in _coco_argv(coco_set, results, model_files)]
    original = coco_results_job.refine_images
    calls = []

    def interrupt_after_first(model, samples):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return original(model, samples)

    monkeypatch.setattr(coco_results_job, 'refine_images', interrupt_after_first)
    assert coco_tool.main(argv) == 130
    monkeypatch.setattr(coco_results_job, 'refine_images', original)
    edited = copy.deepcopy(coco_set['records'])
    del edited[0]
    results.write_text(json.dumps(edited))
    # The resume is keyed by content (fileio.resume): the edited file is accepted, and the
    # output must equal a fresh run over it.
    assert coco_tool.main(argv) == 0
    fresh = coco_set['root'] / 'fresh.json'
    assert coco_tool.main([*argv[:-1], str(fresh)]) == 0
    assert json.loads(out.read_text()) == json.loads(fresh.read_text())
