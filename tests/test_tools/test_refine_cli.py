"""tools/refine.py on one image and on folders (resumed runs, corrupt files)."""
import cv2
import numpy as np
import os
import os.path as osp
import pytest
import subprocess
import sys
import torch

from mmseg_refiner.apis import init_refiner
from mmseg_refiner.apis.folder_job import FOLDER_DATASET_CONFIG
from mmseg_refiner.testing import DEMO_CONFIG, REPO_ROOT, TINY_DEMO_OPTIONS, load_script

TINY_OPTIONS = TINY_DEMO_OPTIONS
TINY = [f'{key}={value}'.replace(' ', '') for key, value in TINY_OPTIONS.items()]

refine_cli = load_script('tools/refine.py')


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    """Random weights of the tiny model, saved as a checkpoint."""
    torch.manual_seed(0)
    model = init_refiner(DEMO_CONFIG, cfg_options=TINY_OPTIONS)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.2)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path)


def _model_args(checkpoint):
    return ['--config', DEMO_CONFIG, '--checkpoint', checkpoint, '--cfg-options', *TINY]


def _write_pair(folder_img, folder_mask, stem, seed, shape=(40, 56)):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    mask = np.zeros(shape, np.uint8)
    mask[5:30, 8:40] = 255
    cv2.imwrite(osp.join(folder_img, f'{stem}.jpg'), image)
    cv2.imwrite(osp.join(folder_mask, f'{stem}_seg.png'), mask)
    return image, mask


def test_one_image_writes_mask_picture_and_scores(tmp_path, tiny_checkpoint, capsys):
    image, mask = _write_pair(str(tmp_path), str(tmp_path), 'a', 0)
    out, vis = tmp_path / 'out' / 'a.png', tmp_path / 'vis.png'
    status = refine_cli.main([
        str(tmp_path / 'a.jpg'),
        str(tmp_path / 'a_seg.png'), '--out',
        str(out), '--vis',
        str(vis), '--gt',
        str(tmp_path / 'a_seg.png'), *_model_args(tiny_checkpoint)
    ])
    assert status == 0
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.shape == mask.shape and written.dtype == np.uint8
    assert set(np.unique(written)) <= {0, 255}
    with open(vis, 'rb') as file:
        assert file.read(8) == b'\x89PNG\r\n\x1a\n'
    # image | coarse | refined | ground truth (--gt is drawn too), each enlarged from 40 px
    picture = cv2.imread(str(vis))
    assert picture.shape[1] > 4 * 384 and picture.shape[0] > 6 * image.shape[0]
    lines = capsys.readouterr().out.splitlines()
    coarse_line = next(line for line in lines if line.startswith('coarse'))
    assert [float(v) for v in coarse_line.split()[1:]] == [1.0, 1.0]  # coarse == gt here
    assert any(line.startswith('refined') for line in lines)


def test_one_image_errors_are_reported(tmp_path, tiny_checkpoint, capsys):
    _write_pair(str(tmp_path), str(tmp_path), 'a', 0)
    cv2.imwrite(str(tmp_path / 'small.png'), np.zeros((10, 10), np.uint8))
    status = refine_cli.main([
        str(tmp_path / 'a.jpg'),
        str(tmp_path / 'small.png'), '--out',
        str(tmp_path / 'o.png'), *_model_args(tiny_checkpoint)
    ])
    assert status == 1
    assert 'small.png has size 10x10' in capsys.readouterr().err
    assert not (tmp_path / 'o.png').exists()
    status = refine_cli.main([str(tmp_path), str(tmp_path / 'a.jpg'), '--out', 'x'])
    assert status == 2


def test_folder_run_resumes_and_reports_a_corrupt_image(tmp_path, tiny_checkpoint, capsys):
    images, masks, out = tmp_path / 'im', tmp_path / 'seg', tmp_path / 'out'
    images.mkdir()
    masks.mkdir()
    for index, stem in enumerate(('a', 'b', 'c')):
        _write_pair(str(images), str(masks), stem, index)
    (images / 'broken.jpg').write_bytes(b'\xff\xd8 this is not a jpeg')
    cv2.imwrite(str(masks / 'broken_seg.png'), np.zeros((40, 56), np.uint8))
    cv2.imwrite(str(images / 'lonely.jpg'), np.zeros((40, 56, 3), np.uint8))
    args = [
        str(images),
        str(masks), '--out',
        str(out), '--mask-suffix', '_seg.png', '--vis',
        str(tmp_path / 'vis'), *_model_args(tiny_checkpoint)
    ]

    # a missing mask is an error before any work starts
    assert refine_cli.main(args) == 1
    assert 'lonely.jpg: missing mask file' in capsys.readouterr().err
    assert not out.exists()
    os.remove(images / 'lonely.jpg')

    assert refine_cli.main(args) == 1
    report = capsys.readouterr().out
    assert 'done: 3, skipped (already refined from the same files): 0, failed: 1' in report
    assert 'failed broken.jpg: cannot decode image file' in report
    # no temporary files left; the progress log beside the masks
    assert sorted(os.listdir(out)) == ['.segrefiner-progress.jsonl', 'a.png', 'b.png', 'c.png']
    assert sorted(os.listdir(tmp_path / 'vis')) == ['a.png', 'b.png', 'c.png']
    for name in ('a', 'b', 'c'):
        assert cv2.imread(str(out / f'{name}.png'), cv2.IMREAD_UNCHANGED).shape == (40, 56)

    # a re-run skips what is finished (same files untouched) and retries what failed
    os.remove(out / 'b.png')
    mtime = os.stat(out / 'a.png').st_mtime_ns
    assert refine_cli.main(args) == 1
    assert 'done: 1, skipped (already refined from the same files): 2, failed: 1' in \
        capsys.readouterr().out
    assert os.stat(out / 'a.png').st_mtime_ns == mtime

    # an input edited in place is detected and refined again
    edited = np.zeros((40, 56), np.uint8)
    edited[10:35, 20:50] = 255
    cv2.imwrite(str(masks / 'a_seg.png'), edited)
    os.remove(images / 'broken.jpg')
    assert refine_cli.main(args) == 0
    report = capsys.readouterr().out
    assert 'inputs changed since they were refined, refined again: a.png' in report
    assert 'done: 1, skipped (already refined from the same files): 2, failed: 0' in report
    assert os.stat(out / 'a.png').st_mtime_ns != mtime

    # another seed would mix results in one folder: refused; --overwrite redoes everything
    assert refine_cli.main(args + ['--seed', '3']) == 1
    error = capsys.readouterr().err
    assert 'another seed' in error and '--overwrite' in error
    assert refine_cli.main(args + ['--overwrite']) == 0
    assert 'done: 3, skipped (already refined from the same files): 0, failed: 0' in \
        capsys.readouterr().out


@pytest.mark.parametrize('mode', ['global_local', 'instance'])
def test_folder_run_gives_the_pngs_of_tools_test_py_on_the_folder_config(
        tmp_path, tiny_checkpoint, mode):
    from mmengine.config import Config
    images, masks = tmp_path / 'im', tmp_path / 'seg'
    images.mkdir()
    masks.mkdir()
    for index, stem in enumerate(('a', 'b', 'c')):
        _write_pair(str(images), str(masks), stem, index, shape=(48, 72))
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(TINY_OPTIONS)
    folder = Config.fromfile(FOLDER_DATASET_CONFIG)
    cfg.test_dataloader = folder.test_dataloader
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.test_dataloader.dataset.update(
        img_dir=str(images),
        coarse_dir=str(masks),
        coarse_suffix='_seg.png',
        out_dir=str(tmp_path / 'runner'))
    cfg.test_evaluator = folder.test_evaluator
    cfg.custom_hooks = folder.custom_hooks
    cfg.model.test_cfg = dict(mode=mode, seed=0)
    config = str(tmp_path / 'folder_cfg.py')
    cfg.dump(config)
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'test.py'), config, tiny_checkpoint, '--work-dir',
        str(tmp_path / 'work')
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO_ROOT),
                          timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

    cli_out = tmp_path / 'cli'
    assert refine_cli.main([
        str(images),
        str(masks), '--out',
        str(cli_out), '--mask-suffix', '_seg.png', '--mode', mode, *_model_args(tiny_checkpoint)
    ]) == 0
    for stem in ('a', 'b', 'c'):
        runner_png = (tmp_path / 'runner' / f'{stem}.png').read_bytes()
        assert runner_png == (cli_out / f'{stem}.png').read_bytes(), stem
    coarse = cv2.imread(str(masks / 'a_seg.png'), cv2.IMREAD_GRAYSCALE)
    assert not np.array_equal(cv2.imread(str(cli_out / 'a.png'), cv2.IMREAD_GRAYSCALE), coarse)


def test_suffix_options_and_exit_status_of_the_script(tmp_path, tiny_checkpoint):
    images, masks, out = tmp_path / 'im', tmp_path / 'seg', tmp_path / 'out'
    images.mkdir()
    masks.mkdir()
    _write_pair(str(images), str(masks), 'x_im', 0)
    (images / 'y_im.jpg').write_bytes(b'broken')
    cv2.imwrite(str(masks / 'y_im_seg.png'), np.zeros((40, 56), np.uint8))
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'refine.py'),
        str(images),
        str(masks), '--out',
        str(out), '--img-suffix', '.jpg', '--mask-suffix', '_seg', '--out-suffix', '_refine.png',
        *_model_args(tiny_checkpoint)
    ],
                          capture_output=True,
                          text=True,
                          env=dict(os.environ, OMP_NUM_THREADS='1'),
                          timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert sorted(os.listdir(out)) == ['.segrefiner-progress.jsonl', 'x_im_refine.png']
    assert 'failed y_im.jpg' in proc.stdout


def test_precision_flag_reaches_the_network(tmp_path, tiny_checkpoint, monkeypatch):
    dtypes = []
    build = refine_cli.init_refiner

    def recording_init_refiner(*args, **kwargs):
        model = build(*args, **kwargs)
        model.denoiser.register_forward_pre_hook(
            lambda module, inputs: dtypes.append(inputs[0].dtype))
        return model

    monkeypatch.setattr(refine_cli, 'init_refiner', recording_init_refiner)
    _write_pair(str(tmp_path), str(tmp_path), 'a', 0)
    outputs = []
    for precision in ('bf16', 'fp32'):
        dtypes.clear()
        out = tmp_path / f'{precision}.png'
        assert refine_cli.main([
            str(tmp_path / 'a.jpg'),
            str(tmp_path / 'a_seg.png'), '--out',
            str(out), '--precision', precision, '--mode', 'instance', *_model_args(tiny_checkpoint)
        ]) == 0
        assert dtypes and set(dtypes) == {torch.bfloat16 if precision == 'bf16' else torch.float32}
        outputs.append(cv2.imread(str(out), cv2.IMREAD_UNCHANGED) > 0)
    agreement = (outputs[0] == outputs[1]).mean()
    assert agreement > 0.95, agreement


@pytest.mark.parametrize('bits', [8, 16])
def test_probs_are_the_apis_probability_on_the_documented_scale(tmp_path, tiny_checkpoint, bits):
    _write_pair(str(tmp_path), str(tmp_path), 'a', 0)
    out, probs, vis = tmp_path / 'a_out.png', tmp_path / 'a_probs.png', tmp_path / 'vis.png'
    args = [str(tmp_path / 'a.jpg'), str(tmp_path / 'a_seg.png'), '--out', str(out)]
    assert refine_cli.main([
        *args, '--probs',
        str(probs), '--probs-bits',
        str(bits), '--vis',
        str(vis), '--vis-probs', *_model_args(tiny_checkpoint)
    ]) == 0
    written = cv2.imread(str(probs), cv2.IMREAD_UNCHANGED)
    scale = 2**bits - 1
    assert written.dtype == (np.uint8 if bits == 8 else np.uint16) and written.shape == (40, 56)
    model = init_refiner(DEMO_CONFIG, tiny_checkpoint, device='cpu', cfg_options=TINY_OPTIONS)
    from mmseg_refiner.apis import refine
    mask, prob = refine(
        model, str(tmp_path / 'a.jpg'), str(tmp_path / 'a_seg.png'), return_probs=True)
    np.testing.assert_array_equal(written, np.rint(prob.astype(np.float64) * scale))
    refined = cv2.imread(str(out), cv2.IMREAD_UNCHANGED) == 255
    np.testing.assert_array_equal(refined, mask)
    np.testing.assert_array_equal(refined, written >= (scale + 1) // 2)  # 128 / 32768
    # image | coarse | refined | probability, each enlarged from 56 px to 392
    assert cv2.imread(str(vis)).shape[1] == 4 * 392 + 3 * 8
    assert refine_cli.main([*args, '--probs', str(out), *_model_args(tiny_checkpoint)]) == 2


def test_folder_run_writes_probs_and_redoes_images_whose_map_is_missing(
        tmp_path, tiny_checkpoint, capsys):
    images, masks, out, probs = (tmp_path / name for name in ('im', 'seg', 'out', 'probs'))
    images.mkdir()
    masks.mkdir()
    for index, stem in enumerate(('a', 'b')):
        _write_pair(str(images), str(masks), stem, index)
    args = [
        str(images),
        str(masks), '--out',
        str(out), '--mask-suffix', '_seg.png', *_model_args(tiny_checkpoint)
    ]
    assert refine_cli.main([*args, '--probs', str(out)]) == 2  # the masks' folder: refused
    assert refine_cli.main(args) == 0
    capsys.readouterr()
    assert refine_cli.main([*args, '--probs', str(probs)]) == 0  # maps missing: refined again
    assert 'done: 2, skipped' in capsys.readouterr().out
    assert sorted(os.listdir(probs)) == ['a.png', 'b.png']
    for name in ('a', 'b'):
        mask = cv2.imread(str(out / f'{name}.png'), cv2.IMREAD_UNCHANGED) == 255
        prob = cv2.imread(str(probs / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(mask, prob >= 128)
    assert refine_cli.main([*args, '--probs', str(probs)]) == 0
    assert 'done: 0, skipped (already refined from the same files): 2' in capsys.readouterr().out
