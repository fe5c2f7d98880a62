"""The one output rule: nothing a job writes replaces or mixes with what it reads."""
import os
import pytest

from mmseg_refiner.fileio import JobPath, OutputPathError, check_outputs


@pytest.fixture
def layout(tmp_path):
    """An image folder with two images, a results file and a config."""
    images = tmp_path / 'images'
    images.mkdir()
    for name in ('1.png', '2.png'):
        (images / name).write_bytes(b'png ' + name.encode())
    (tmp_path / 'results.json').write_text('[]')
    (tmp_path / 'cfg.py').write_text('x = 1')
    inputs = [
        JobPath('img_dir', str(images), folder=True),
        JobPath('results', str(tmp_path / 'results.json')),
        JobPath('--config', str(tmp_path / 'cfg.py')),
    ]
    return tmp_path, images, inputs


def _refused(outputs, inputs, *words):
    with pytest.raises(OutputPathError) as info:
        check_outputs(outputs, inputs)
    for word in words:
        assert str(word) in str(info.value), str(info.value)


def test_outputs_apart_from_the_inputs_pass(layout):
    root, _, inputs = layout
    check_outputs([
        JobPath('--out', str(root / 'new' / 'out.json'), formats=('.json', )),
        JobPath('--work-dir', str(root / 'work'), folder=True)
    ], inputs)


def test_an_output_that_is_an_input_file_is_refused(layout):
    root, _, inputs = layout
    _refused([JobPath('--out', str(root / 'results.json'))], inputs, '--out', 'is the input',
             'results.json')
    _refused([JobPath('--out', str(root / 'sub' / '..' / 'cfg.py'))], inputs, 'cfg.py')


def test_an_output_file_inside_an_input_folder_is_refused_existing_or_not(layout):
    root, images, inputs = layout
    for name in ('2.png', 'new.json'):  # replaces an image / mixes with them
        _refused([JobPath('--out', str(images / name))], inputs, 'inside the input folder',
                 'img_dir')


def test_links_do_not_hide_an_input(layout):
    root, images, inputs = layout
    os.symlink(images, root / 'alias')
    _refused([JobPath('--out', str(root / 'alias' / '1.png'))], inputs, 'img_dir')
    os.symlink(root / 'results.json', root / 'link.json')
    _refused([JobPath('--out', str(root / 'link.json'))], inputs, 'results.json')
    os.link(root / 'cfg.py', root / 'hard.py')
    _refused([JobPath('--out', str(root / 'hard.py'))], inputs, 'hard link', 'cfg.py')


def test_a_file_an_input_folder_links_to_is_an_input(layout, tmp_path):
    root, images, inputs = layout
    elsewhere = root / 'elsewhere'
    elsewhere.mkdir()
    (elsewhere / 'real.png').write_bytes(b'real')
    os.symlink(elsewhere / 'real.png', images / '3.png')
    _refused([JobPath('--out', str(elsewhere / 'real.png'))], inputs, '3.png', 'points')


def test_output_folders_may_not_be_contain_or_lie_in_an_input_folder(layout):
    root, images, inputs = layout
    for folder, relation in ((images, 'is the input folder'), (images / 'refined', 'lies inside'),
                             (root, 'contains')):
        _refused([JobPath('--out', str(folder), folder=True)], inputs, relation)


def test_an_input_file_may_live_in_an_output_folder(layout):
    root, _, inputs = layout
    work = root / 'work'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'w')
    check_outputs([JobPath('--work-dir', str(work), folder=True)],
                  inputs + [JobPath('checkpoint', str(work / 'epoch_1.pth'))])


def test_the_format_is_checked_from_the_name_before_anything(tmp_path):
    _refused([JobPath('--out', str(tmp_path / 'r.jpg'), formats=('.png', ))], [], '.png', '.jpg')
    _refused([JobPath('--out', str(tmp_path / 'r'), formats=('.json', ))], [], 'without extension')
    check_outputs([JobPath('--out', str(tmp_path / 'R.PNG'), formats=('.png', ))])


def test_wrong_kinds_of_paths_are_refused(tmp_path):
    (tmp_path / 'file').write_text('x')
    _refused([JobPath('--out', str(tmp_path), formats=('.json', ))], [], 'existing directory',
             'out.json')
    _refused([JobPath('--out', str(tmp_path / 'file'), folder=True)], [], 'not a folder')
    _refused([JobPath('--out', str(tmp_path / 'file' / 'x.json'))], [], 'parent')


def test_two_outputs_may_not_write_over_each_other(tmp_path):
    _refused([JobPath('--out', str(tmp_path / 'a.png')),
              JobPath('--vis', str(tmp_path / 'a.png'))], [], '--vis', '--out')
    _refused([
        JobPath('--out', str(tmp_path / 'o'), folder=True),
        JobPath('--vis', str(tmp_path / 'o'), folder=True)
    ], [], 'each other')
    # nested output folders are the OpenMMLab norm (a show_dir inside the work_dir)
    check_outputs([
        JobPath('--work-dir', str(tmp_path / 'w'), folder=True),
        JobPath('--show-dir', str(tmp_path / 'w' / 'vis'), folder=True)
    ], [])


def test_missing_entries_are_skipped(tmp_path):
    check_outputs([None, JobPath('--vis', None)], [None, JobPath('--gt', None)])
