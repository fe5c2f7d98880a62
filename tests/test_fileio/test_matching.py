"""Matching images to masks by name."""
import pytest

from mmseg_refiner.fileio import file_key, index_folder, match_keys, with_image_extensions


def _touch(folder, *names):
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b'')


def test_keys_strip_prefix_and_longest_suffix():
    assert file_key('x_gt.png', ('.png', '_gt.png')) == 'x'
    assert file_key('img_x.JPG', '.jpg', prefix='img_') == 'x'
    assert file_key('x.txt', with_image_extensions()) is None
    assert file_key('.png', '.png') is None


def test_two_files_with_one_stem_are_reported_by_name(tmp_path):
    _touch(tmp_path / 'im', 'a.jpg', 'a.png', 'b.png', 'c.jpg', 'c.tif', 'notes.txt')
    with pytest.raises(ValueError, match=r'a\.jpg and a\.png; c\.jpg and c\.tif'):
        index_folder(str(tmp_path / 'im'), what='image')


def test_match_keys_lists_what_each_folder_lacks(tmp_path):
    _touch(tmp_path / 'im', 'a_im.jpg', 'b_im.jpg', 'c_im.jpg')
    _touch(tmp_path / 'seg', 'a_seg.png', 'c_seg.png', 'z_seg.png')
    images = index_folder(str(tmp_path / 'im'), '_im.jpg')
    masks = index_folder(str(tmp_path / 'seg'), '_seg.png')
    matched, missing = match_keys(images, dict(coarse=masks))
    assert [key for key, _ in matched] == ['a', 'c']
    assert matched[0][1] == dict(
        primary=str(tmp_path / 'im' / 'a_im.jpg'), coarse=str(tmp_path / 'seg' / 'a_seg.png'))
    assert missing == dict(coarse=['b'])
    with pytest.raises(FileNotFoundError, match='mask folder'):
        index_folder(str(tmp_path / 'nope'), what='mask')


def test_a_suffix_without_an_image_extension_takes_any(tmp_path):
    _touch(tmp_path / 'seg', 'a_seg.png', 'b_seg.JPG', 'c_seg.txt', 'd.png')
    folder = str(tmp_path / 'seg')
    assert index_folder(folder, '_seg') == {
        'a': str(tmp_path / 'seg' / 'a_seg.png'),
        'b': str(tmp_path / 'seg' / 'b_seg.JPG')
    }
    assert index_folder(folder, '_seg.png') == {'a': str(tmp_path / 'seg' / 'a_seg.png')}
    # no suffix at all: every image, keyed by its stem
    assert sorted(index_folder(folder, '')) == ['a_seg', 'b_seg', 'd']
    _touch(tmp_path / 'seg', 'a_seg.jpg')
    with pytest.raises(ValueError, match=r'a_seg\.jpg and a_seg\.png'):
        index_folder(folder, '_seg')
