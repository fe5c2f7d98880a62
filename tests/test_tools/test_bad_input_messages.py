"""Unclear or broken messages made clear: one ``error:`` line naming the file, or the right
answer (zero-byte files, directories as configs, unwritable outputs, hidden files, broken
links and subfolders in a folder run, EXIF-rotated images, the API's wrong arguments)."""
import cv2
import errno
import json
import numpy as np
import os
import os.path as osp
import pycocotools.mask as mask_utils
import pytest
import tempfile
import warnings
from PIL import Image

from mmseg_refiner import fileio
from mmseg_refiner.apis import init_refiner, refine
from mmseg_refiner.fileio import SkippedEntriesWarning, index_folder, read_image
from mmseg_refiner.testing import DEMO_CHECKPOINT, DEMO_CONFIG, load_script

refine_tool = load_script('tools/refine.py')
coco_tool = load_script('tools/refine_coco_results.py')
MODEL = ['--config', DEMO_CONFIG, '--checkpoint', DEMO_CHECKPOINT]


def _error_line(main, argv, capsys, *words):
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert status != 0 and 'Traceback' not in err, err
    [line] = [line for line in err.splitlines() if line.startswith('error: ')]
    for word in words:
        assert str(word) in line, line
    return line


def _pair(folder, stem='a', size=(48, 64)):
    cv2.imwrite(str(folder / f'{stem}.jpg'), np.full((*size, 3), 120, np.uint8))
    mask = np.zeros(size, np.uint8)
    mask[10:40, 10:50] = 255
    return folder / f'{stem}.jpg', mask


def test_a_zero_byte_image_or_mask_is_named(tmp_path, capsys):
    (tmp_path / 'empty.png').write_bytes(b'')
    image, mask = _pair(tmp_path)
    cv2.imwrite(str(tmp_path / 'm.png'), mask)
    _error_line(refine_tool.main,
                [tmp_path / 'empty.png', tmp_path / 'm.png', '--out', tmp_path / 'o.png', *MODEL],
                capsys, 'empty.png', 'empty (0 bytes)')
    _error_line(refine_tool.main,
                [image, tmp_path / 'empty.png', '--out', tmp_path / 'o.png', *MODEL], capsys,
                'empty.png', 'empty (0 bytes)')


def test_a_config_that_is_a_directory_says_so(tmp_path, capsys):
    image, mask = _pair(tmp_path)
    cv2.imwrite(str(tmp_path / 'm.png'), mask)
    _error_line(refine_tool.main, [
        image, tmp_path / 'm.png', '--out', tmp_path / 'o.png', '--config', tmp_path,
        '--checkpoint', DEMO_CHECKPOINT
    ], capsys, 'is a directory')


def test_one_file_as_image_and_mask_is_refused(tmp_path, capsys):
    image, _ = _pair(tmp_path)
    _error_line(refine_tool.main, [image, image, '--out', tmp_path / 'o.png', *MODEL], capsys,
                'a.jpg', 'both the image and the coarse mask')


def test_the_image_folder_given_as_the_mask_folder_is_refused(tmp_path, capsys):
    images = tmp_path / 'img'
    images.mkdir()
    cv2.imwrite(str(images / 'a.png'), np.full((48, 64, 3), 120, np.uint8))
    _error_line(refine_tool.main, [images, images, '--out', tmp_path / 'out', *MODEL], capsys,
                'a.png', 'both the image and the coarse mask')


def test_an_unwritable_output_names_it_not_a_temporary_file(tmp_path, monkeypatch):

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device', str(tmp_path / '.o.png.x.tmp'))

    monkeypatch.setattr(tempfile, 'mkstemp', full_disk)
    with pytest.raises(OSError) as info:
        fileio.write_mask_png(tmp_path / 'o.png', np.ones((4, 4), bool))
    assert info.value.filename == str(tmp_path / 'o.png')
    assert info.value.strerror == 'No space left on device'


def test_a_folder_run_names_what_it_leaves_out(tmp_path):
    folder = tmp_path / 'img'
    folder.mkdir()
    for name in ('a.png', '.hidden.png'):
        cv2.imwrite(str(folder / name), np.zeros((8, 8, 3), np.uint8))
    (folder / 'sub').mkdir()
    os.symlink(tmp_path / 'gone.png', folder / 'broken.png')
    with pytest.warns(SkippedEntriesWarning) as record:
        index = index_folder(str(folder), what='image')
    assert list(index) == ['a']
    message = str(record[0].message)
    for words in ('1 hidden (.hidden.png)', '1 subfolder (sub)', '1 link to nothing (broken.png)'):
        assert words in message, message


def test_a_hidden_file_does_not_stop_a_folder_run(tmp_path, capsys):
    images, masks = tmp_path / 'img', tmp_path / 'mask'
    images.mkdir()
    masks.mkdir()
    _, mask = _pair(images)
    cv2.imwrite(str(masks / 'a.png'), mask)
    cv2.imwrite(str(images / '.hidden.jpg'), np.zeros((8, 8, 3), np.uint8))  # no mask
    with pytest.warns(SkippedEntriesWarning, match='.hidden.jpg'):
        status = refine_tool.main([str(images), str(masks), '--out', str(tmp_path / 'out'), *MODEL])
    assert status == 0 and sorted(os.listdir(
        tmp_path / 'out')) == ['.segrefiner-progress.jsonl', 'a.png']


def test_an_exif_rotated_jpeg_is_explained(tmp_path):
    path = tmp_path / 'rot.jpg'
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    Image.fromarray(np.full((20, 30, 3), 50, np.uint8)).save(path, exif=exif)
    assert read_image(path).shape[:2] == (30, 20)  # read upright, as OpenCV does
    message = fileio.size_mismatch(str(path), (30, 20), (20, 30))
    assert 'EXIF orientation (6)' in message and 'stored size' in message
    assert 'EXIF' not in fileio.size_mismatch(str(path), (30, 20), (10, 10))


def test_refine_coco_results_exif_mismatch_is_one_line(tmp_path, capsys):
    images = tmp_path / 'img'
    images.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.fromarray(np.full((20, 30, 3), 50, np.uint8)).save(images / 'r.jpg', exif=exif)
    mask = np.zeros((20, 30), np.uint8, order='F')
    mask[2:10, 2:10] = 1
    rle = mask_utils.encode(mask)
    (tmp_path / 'ann.json').write_text(
        json.dumps(
            dict(
                images=[dict(id=1, file_name='r.jpg', height=20, width=30)],
                annotations=[],
                categories=[dict(id=1, name='a')])))
    (tmp_path / 'res.json').write_text(
        json.dumps([
            dict(
                image_id=1,
                category_id=1,
                score=0.5,
                segmentation=dict(size=rle['size'], counts=rle['counts'].decode()))
        ]))
    _error_line(coco_tool.main, [
        tmp_path / 'res.json', tmp_path / 'ann.json', images, '--out', tmp_path / 'o.json', *MODEL
    ], capsys, 'r.jpg', 'EXIF orientation (8)')


def test_refine_coco_results_takes_the_model_of_any_config(tmp_path, capsys):
    """The demo config's test data are synthetic: its model runs on the COCO-results data."""
    images = tmp_path / 'img'
    images.mkdir()
    cv2.imwrite(str(images / '1.png'), np.full((24, 32, 3), 90, np.uint8))
    mask = np.zeros((24, 32), np.uint8, order='F')
    mask[4:20, 5:25] = 1
    rle = mask_utils.encode(mask)
    (tmp_path / 'ann.json').write_text(
        json.dumps(
            dict(
                images=[dict(id=1, file_name='1.png', height=24, width=32)],
                annotations=[],
                categories=[dict(id=1, name='a')])))
    (tmp_path / 'res.json').write_text(
        json.dumps([
            dict(
                image_id=1,
                category_id=1,
                score=0.5,
                segmentation=dict(size=rle['size'], counts=rle['counts'].decode()))
        ]))
    status = coco_tool.main([
        str(a) for a in (tmp_path / 'res.json', tmp_path / 'ann.json', images, '--out',
                         tmp_path / 'o.json', *MODEL)
    ])
    captured = capsys.readouterr()
    assert status == 0 and 'does not read COCO results' in captured.out, captured.err
    [record] = json.loads((tmp_path / 'o.json').read_text())
    assert record['segmentation']['size'] == [24, 32]


def test_the_api_names_a_missing_model_and_takes_numpy_seeds():
    with pytest.raises(TypeError, match='init_refiner'):
        refine(None, np.zeros((32, 32, 3), np.uint8), np.ones((32, 32), bool))
    model = init_refiner(DEMO_CONFIG, DEMO_CHECKPOINT)
    image = cv2.imread(osp.join(osp.dirname(DEMO_CHECKPOINT), 'image.png'))
    mask = fileio.read_mask(osp.join(osp.dirname(DEMO_CHECKPOINT), 'coarse_mask.png'))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        np.testing.assert_array_equal(
            refine(model, image, mask, seed=np.int64(3)), refine(model, image, mask, seed=3))
