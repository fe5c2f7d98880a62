"""tools/dataset_converters/make_hr_coarse_masks.py: outputs, resuming, atomic writes, errors."""
import cv2
import numpy as np
import os
import os.path as osp
import pytest

from mmseg_refiner.datasets.hr_refine import coarse_mask_paths
from mmseg_refiner.testing import registered_script


@pytest.fixture(scope='module')
def converter():
    with registered_script('tools/dataset_converters/make_hr_coarse_masks.py') as module:
        yield module


RING_SIZES = [(160, 200), (150, 150), (120, 180)]


def _ring(height, width):
    """0/255 mask of a thick ring: its hole is background in the ground truth."""
    mask = np.zeros((height, width), np.uint8)
    cv2.circle(mask, (width // 2, height // 2), min(height, width) // 3, 255, thickness=-1)
    cv2.circle(mask, (width // 2, height // 2), min(height, width) // 6, 0, thickness=-1)
    return mask


@pytest.fixture
def mask_dir(tmp_path):
    folder = tmp_path / 'gt'
    folder.mkdir()
    for index, size in enumerate(RING_SIZES):
        cv2.imwrite(str(folder / f'mask_{index}.png'), _ring(*size))
    return folder


def _hole(height, width):
    hole = np.zeros((height, width), np.uint8)
    cv2.circle(hole, (width // 2, height // 2), min(height, width) // 6 - 1, 1, thickness=-1)
    return hole > 0


def _all_files(folder):
    """The coarse masks under ``folder`` (the progress log left out)."""
    return sorted(
        osp.relpath(osp.join(root, name), folder) for root, _, names in os.walk(folder)
        for name in names if name != '.segrefiner-progress.jsonl')


def test_writes_two_binary_variants_per_mask(converter, mask_dir, tmp_path, capsys):
    out_dir = str(tmp_path / 'coarse')
    assert converter.main([str(mask_dir), out_dir, '--nproc', '2']) == 0
    assert _all_files(out_dir) == sorted(f'{variant}/mask_{index}.png'
                                         for variant in ('gt', 'filled') for index in range(3))
    hole_cover = {'gt': [], 'filled': []}
    for index in range(3):
        truth = cv2.imread(str(mask_dir / f'mask_{index}.png'), cv2.IMREAD_GRAYSCALE) > 0
        gt_variant, filled_variant = (
            cv2.imread(p, cv2.IMREAD_UNCHANGED)
            for p in coarse_mask_paths(out_dir, f'mask_{index}'))
        for coarse in (gt_variant, filled_variant):
            assert coarse.shape == truth.shape and coarse.dtype == np.uint8
            assert set(np.unique(coarse)) <= {0, 255}
            iou = ((coarse > 0) & truth).sum() / ((coarse > 0) | truth).sum()
            assert 0.4 < iou < 1.0
        hole = _hole(*RING_SIZES[index])
        hole_cover['gt'].append((gt_variant[hole] > 0).mean())
        hole_cover['filled'].append((filled_variant[hole] > 0).mean())
    # the ring's hole stays mostly open in the synthesis of the ground truth and is
    # filled in the synthesis of the ground truth with holes filled
    assert np.mean(hole_cover['gt']) < 0.6 and np.mean(hole_cover['filled']) > 0.9
    assert '3 masks: 3 processed (6 files written), 0 already done, 0 failed' in capsys.readouterr(
    ).out


def test_rerun_skips_and_a_deleted_output_is_remade_identically(converter, mask_dir, tmp_path,
                                                                capsys):
    out_dir = str(tmp_path / 'coarse')
    converter.main([str(mask_dir), out_dir, '--nproc', '1'])
    paths = [p for index in range(3) for p in coarse_mask_paths(out_dir, f'mask_{index}')]
    contents = {p: open(p, 'rb').read() for p in paths}
    mtimes = {p: os.stat(p).st_mtime_ns for p in paths}
    capsys.readouterr()

    assert converter.main([str(mask_dir), out_dir, '--nproc', '2']) == 0
    assert '0 processed (0 files written), 3 already done' in capsys.readouterr().out
    assert {p: os.stat(p).st_mtime_ns for p in paths} == mtimes

    removed = coarse_mask_paths(out_dir, 'mask_1')[1]
    os.remove(removed)
    assert converter.main([str(mask_dir), out_dir, '--nproc', '1']) == 0
    assert '1 processed (2 files written), 2 already done' in capsys.readouterr().out
    assert {p: open(p, 'rb').read() for p in paths} == contents
    assert {p
            for p in paths
            if os.stat(p).st_mtime_ns != mtimes[p]} == set(coarse_mask_paths(out_dir, 'mask_1'))


def test_an_edited_ground_truth_is_remade_and_another_seed_refused(converter, mask_dir, tmp_path,
                                                                   capsys):
    out_dir = str(tmp_path / 'coarse')
    assert converter.main([str(mask_dir), out_dir, '--nproc', '1']) == 0
    before = {p: open(p, 'rb').read() for p in coarse_mask_paths(out_dir, 'mask_2')}
    edited = _ring(*RING_SIZES[2])
    edited[:, :100] = 0
    cv2.imwrite(str(mask_dir / 'mask_2.png'), edited)
    capsys.readouterr()
    assert converter.main([str(mask_dir), out_dir, '--nproc', '1']) == 0
    out = capsys.readouterr().out
    assert '1 ground truths changed since their coarse masks were made; made again: mask_2' in out
    assert '1 processed (2 files written), 2 already done' in out
    assert all(open(p, 'rb').read() != data for p, data in before.items())
    assert converter.main([str(mask_dir), out_dir, '--nproc', '1', '--seed', '5']) == 1
    err = capsys.readouterr().err
    assert 'error: ' in err and 'another seed' in err


def test_0_1_and_0_255_ground_truths_give_the_same_coarse_masks(converter, tmp_path):
    for name, scale in (('a', 255), ('b', 1)):
        folder = tmp_path / name
        folder.mkdir()
        cv2.imwrite(str(folder / 'm.png'), (_ring(150, 150) > 0).astype(np.uint8) * scale)
        assert converter.main([str(folder), str(tmp_path / f'out_{name}'), '--nproc', '1']) == 0
    for variant_a, variant_b in zip(
            coarse_mask_paths(str(tmp_path / 'out_a'), 'm'),
            coarse_mask_paths(str(tmp_path / 'out_b'), 'm')):
        assert open(variant_a, 'rb').read() == open(variant_b, 'rb').read()


def test_different_seed_gives_different_masks(converter, mask_dir, tmp_path):
    converter.main([str(mask_dir), str(tmp_path / 'a'), '--nproc', '1', '--seed', '0'])
    converter.main([str(mask_dir), str(tmp_path / 'b'), '--nproc', '1', '--seed', '1'])
    a = cv2.imread(coarse_mask_paths(str(tmp_path / 'a'), 'mask_0')[0])
    b = cv2.imread(coarse_mask_paths(str(tmp_path / 'b'), 'mask_0')[0])
    assert (a != b).any()


def test_bad_masks_are_reported_by_name_and_the_rest_is_written(converter, mask_dir, tmp_path,
                                                                capsys):
    (mask_dir / 'broken.png').write_bytes(b'not a png')
    cv2.imwrite(str(mask_dir / 'blank.png'), np.zeros((30, 30), np.uint8))
    out_dir = str(tmp_path / 'coarse')
    assert converter.main([str(mask_dir), out_dir, '--nproc', '2']) == 1
    out = capsys.readouterr().out
    assert '5 masks: 3 processed (6 files written), 0 already done, 2 failed' in out
    assert f'failed: {mask_dir / "broken.png"}: cannot read mask file' in out
    assert f'failed: {mask_dir / "blank.png"}: no foreground' in out
    assert all(osp.exists(p) for i in range(3) for p in coarse_mask_paths(out_dir, f'mask_{i}'))
    assert not any(osp.exists(p) for p in coarse_mask_paths(out_dir, 'broken'))


def test_list_file_selects_names_with_or_without_extension(converter, mask_dir, tmp_path):
    list_file = tmp_path / 'train.txt'
    list_file.write_text('mask_0.png\n\nmask_2\n')
    out_dir = str(tmp_path / 'coarse')
    assert converter.main([str(mask_dir), out_dir, '--list', str(list_file), '--nproc', '1']) == 0
    assert _all_files(out_dir) == sorted(f'{variant}/mask_{index}.png'
                                         for variant in ('gt', 'filled') for index in (0, 2))
