"""Atomic writers: content, permissions like a plain open(), no temporary files left."""
import json
import numpy as np
import os
import pytest
import stat

from mmseg_refiner.fileio import (current_umask, write_bytes_atomic, write_image_atomic,
                                  write_json_atomic, write_mask_png)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_the_umask_without_changing_it():
    previous = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert current_umask() == 0o027
    finally:
        os.umask(previous)


def test_write_bytes_atomic_gives_0644_under_umask_022_and_leaves_only_the_file(
        tmp_path, umask_022):
    target = tmp_path / 'sub' / 'out.bin'
    write_bytes_atomic(target, b'first')
    write_bytes_atomic(target, b'second')  # replaces an existing file
    assert target.read_bytes() == b'second'
    assert _mode(target) == 0o644
    assert os.listdir(tmp_path / 'sub') == ['out.bin']


def test_write_bytes_atomic_follows_a_stricter_umask(tmp_path):
    previous = os.umask(0o077)
    try:
        write_bytes_atomic(tmp_path / 'private.bin', b'x')
    finally:
        os.umask(previous)
    assert _mode(tmp_path / 'private.bin') == 0o600


def test_a_failed_replace_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / 'out.bin'
    target.write_bytes(b'old')

    def fail(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', fail)
    with pytest.raises(OSError, match='disk full'):
        write_bytes_atomic(target, b'new')
    monkeypatch.undo()
    assert target.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['out.bin']


def test_json_and_image_writers_use_normal_permissions(tmp_path, umask_022):
    json_path = tmp_path / 'report.json'
    write_json_atomic(str(json_path), {'iou': 0.5, 'mba': float('nan')})
    assert json.loads(json_path.read_text()) == {'iou': 0.5, 'mba': None}
    png_path = tmp_path / 'mask.png'
    write_image_atomic(png_path, np.full((4, 4), 255, np.uint8))
    assert _mode(json_path) == 0o644 and _mode(png_path) == 0o644
    assert sorted(os.listdir(tmp_path)) == ['mask.png', 'report.json']


def test_write_mask_png_writes_0_255_and_refuses_lossy_formats(tmp_path):
    mask = np.zeros((4, 5), bool)
    mask[1:3, 2:4] = True
    write_mask_png(tmp_path / 'm.png', mask)
    import cv2
    stored = cv2.imread(str(tmp_path / 'm.png'), cv2.IMREAD_UNCHANGED)
    assert stored.dtype == np.uint8 and set(np.unique(stored)) == {0, 255}
    np.testing.assert_array_equal(stored == 255, mask)
    with pytest.raises(ValueError, match='PNG'):
        write_mask_png(tmp_path / 'm.jpg', mask)
