"""The tools that wrote over an input they read when pointed at it, and the outputs that are
not arguments (a progress log, a config's ``out_dir``, a chain's part checkpoints): each is
refused with one ``error:`` line before any work, and every input stays byte-identical."""
import cv2
import hashlib
import json
import numpy as np
import os
import os.path as osp
import pycocotools.mask as mask_utils
import pytest

from mmseg_refiner.testing import DEMO_CHECKPOINT, DEMO_CONFIG
from mmseg_refiner.testing import REPO_ROOT as REPO
from mmseg_refiner.testing import load_script

COCO_CONFIG = osp.join(REPO, 'configs/segrefiner/segrefiner_unet-128_coco-results-refine.py')

coco_tool = load_script('tools/refine_coco_results.py')
folders_tool = load_script('tools/analysis_tools/eval_mask_folders.py')
heldout_tool = load_script('tools/analysis_tools/eval_synthetic_heldout.py')
test_tool = load_script('tools/test.py')
combine_tool = load_script('tools/model_converters/combine_chain_checkpoint.py')
demo_tool = load_script('demo/refine_demo.py')


def _digests(*paths):
    found = {}
    for path in paths:
        for root, _, names in os.walk(path) if osp.isdir(path) else [('', [], [path])]:
            for name in names:
                full = osp.join(root, name)
                with open(full, 'rb') as f:
                    found[full] = hashlib.sha256(f.read()).hexdigest()
    return found


def _refused(main, argv, capsys, *words, inputs=()):
    before = _digests(*inputs)
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert status != 0 and 'Traceback' not in err, err
    [line] = [line for line in err.splitlines() if line.startswith('error: ')]
    for word in words:
        assert str(word) in line, line
    assert _digests(*inputs) == before
    return line


@pytest.fixture
def coco(tmp_path):
    """An image folder (``1.png``, ``2.png``), annotations and results of one detection each."""
    images = tmp_path / 'img'
    images.mkdir()
    mask = np.zeros((24, 32), np.uint8)
    mask[4:20, 5:25] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    records, entries = [], []
    for img_id in (1, 2):
        cv2.imwrite(str(images / f'{img_id}.png'), np.full((24, 32, 3), 100, np.uint8))
        entries.append(dict(id=img_id, file_name=f'{img_id}.png', height=24, width=32))
        records.append(
            dict(
                image_id=img_id,
                category_id=1,
                score=0.9,
                segmentation=dict(size=rle['size'], counts=rle['counts'].decode())))
    (tmp_path / 'ann.json').write_text(
        json.dumps(dict(images=entries, annotations=[], categories=[dict(id=1, name='a')])))
    (tmp_path / 'res.json').write_text(json.dumps(records))
    return tmp_path, images


def _coco_argv(root, images, out):
    return [
        root / 'res.json', root / 'ann.json', images, '--config', COCO_CONFIG, '--checkpoint',
        DEMO_CHECKPOINT, '--out', out
    ]


def test_refine_coco_results_never_writes_into_the_image_folder(coco, capsys):
    root, images = coco
    inputs = [images, root / 'res.json', root / 'ann.json']
    # the case: a JSON written over an image (and its log beside the images)
    _refused(
        coco_tool.main,
        _coco_argv(root, images, images / '2.png'),
        capsys,
        '--out',
        '.json',
        inputs=inputs)
    _refused(
        coco_tool.main,
        _coco_argv(root, images, images / 'refined.json'),
        capsys,
        'inside the input folder',
        inputs=inputs)
    _refused(
        coco_tool.main,
        _coco_argv(root, images, root / 'res.json'),
        capsys,
        'is the input',
        inputs=inputs)
    assert sorted(os.listdir(images)) == ['1.png', '2.png']


def test_refine_coco_results_refuses_a_log_that_would_replace_an_input(coco, capsys):
    root, images = coco
    (root / 'out.json.progress.jsonl').write_text('{}')  # an input of the job, by name
    os.replace(root / 'res.json', root / 'r.json')
    os.symlink(root / 'out.json.progress.jsonl', root / 'res.json')
    _refused(
        coco_tool.main,
        _coco_argv(root, images, root / 'out.json'),
        capsys,
        'its progress log',
        inputs=[root / 'r.json'])


@pytest.fixture
def mask_folders(tmp_path):
    gt, pred = tmp_path / 'gt', tmp_path / 'pred'
    gt.mkdir()
    pred.mkdir()
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 255
    for folder in (gt, pred):
        cv2.imwrite(str(folder / 'a.png'), mask)
    return gt, pred


@pytest.mark.parametrize('out', ['pred/a.png', 'gt/metrics.json', 'pred/metrics.json'])
def test_eval_mask_folders_never_writes_its_metrics_over_a_mask(mask_folders, capsys, out):
    gt, pred = mask_folders
    _refused(
        folders_tool.main, ['--gt', gt, '--pred', pred, '--out', gt.parent / out],
        capsys,
        '--out',
        inputs=[gt, pred])


def test_eval_synthetic_heldout_never_writes_over_its_config(tmp_path, capsys):
    config = tmp_path / 'cfg.json'
    with open(DEMO_CONFIG) as f:
        config.write_text(f.read())  # a config in .json form would be overwritten
    _refused(
        heldout_tool.main,
        ['--config', config, '--checkpoint', DEMO_CHECKPOINT, '--out', config, '--num', '1'],
        capsys,
        'is the input',
        inputs=[config])


def test_test_py_refuses_a_folder_config_writing_refined_masks_over_its_coarse_masks(
        tmp_path, capsys):
    images, coarse = tmp_path / 'img', tmp_path / 'coarse'
    images.mkdir()
    coarse.mkdir()
    cv2.imwrite(str(images / 'a.jpg'), np.full((40, 40, 3), 90, np.uint8))
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 255
    cv2.imwrite(str(coarse / 'a.png'), mask)
    config = tmp_path / 'folder.py'
    folder_base = osp.join(REPO, 'configs/_base_/datasets/mask_folder_refine.py')
    config.write_text(f"""from mmengine.config import Config
_base_ = [{DEMO_CONFIG!r}]
_folder = Config.fromfile({folder_base!r})
_dataset = _folder.test_dataloader.dataset.to_dict()
_dataset.update(img_dir={str(images)!r}, coarse_dir={str(coarse)!r}, out_dir={str(coarse)!r})
test_dataloader = dict(dataset=dict(_delete_=True, **_dataset))
del _folder, _dataset, Config
""")
    _refused(
        test_tool.main, [config, DEMO_CHECKPOINT, '--work-dir', tmp_path / 'work'],
        capsys,
        'out_dir',
        'is the input folder',
        inputs=[images, coarse])


def test_test_py_out_may_not_be_an_input_of_the_config(tmp_path, capsys):
    pickle = tmp_path / 'results.pkl'
    pickle.write_bytes(b'an input the config reads')
    config = tmp_path / 'cfg.py'
    config.write_text(f'_base_ = [{DEMO_CONFIG!r}]\n'
                      f'test_dataloader = dict(dataset=dict(ann_file={str(pickle)!r}))\n')
    _refused(
        test_tool.main, [config, DEMO_CHECKPOINT, '--out', pickle, '--work-dir', tmp_path / 'work'],
        capsys,
        'ann_file',
        inputs=[pickle])


def test_combine_chain_checkpoint_never_writes_over_a_part_checkpoint(tmp_path, capsys):
    part = tmp_path / 'refiner.pth'
    with open(DEMO_CHECKPOINT, 'rb') as f:
        part.write_bytes(f.read())
    config = tmp_path / 'chain.py'
    chain = osp.join(REPO, 'configs/chains/mask-rcnn_r50_fpn_1x_coco_segrefiner-lr.py')
    config.write_text(f'_base_ = [{chain!r}]\n')
    (tmp_path / 'det.pth').write_bytes(b'detector weights')
    _refused(
        combine_tool.main, [
            config, part, '--cfg-options', f'model.refiner_checkpoint={part}',
            f'model.detector_checkpoint={tmp_path / "det.pth"}'
        ],
        capsys,
        'model.refiner_checkpoint',
        inputs=[part])


def test_the_demo_never_writes_over_its_inputs(tmp_path, capsys):
    image = tmp_path / 'refined_mask.png'
    with open(osp.join(REPO, 'demo', 'image.png'), 'rb') as f:
        image.write_bytes(f.read())
    _refused(
        demo_tool.main, ['--image', image, '--out-dir', tmp_path],
        capsys,
        'is the input',
        inputs=[image])
