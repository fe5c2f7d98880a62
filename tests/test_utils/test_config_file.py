"""check_checkpoints: which checkpoint settings of a config are refused when the file is missing."""
import pytest
from mmengine.config import Config

from mmseg_refiner.utils.config_file import check_checkpoints


def _chain(tmp_path, **settings):
    path = tmp_path / 'chain.py'
    path.write_text('model = dict(type="RefinedDetector")\n')
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict(settings)
    return cfg


def test_urls_and_existing_files_pass(tmp_path):
    (tmp_path / 'refiner.pth').write_bytes(b'')
    check_checkpoints(
        _chain(
            tmp_path, **{
                'model.detector_checkpoint': 'https://example.invalid/det.pth',
                'model.refiner_checkpoint': str(tmp_path / 'refiner.pth')
            }))


def test_a_missing_part_checkpoint_names_its_key(tmp_path):
    cfg = _chain(tmp_path, **{'model.detector_checkpoint': 'det.pth'})
    with pytest.raises(
            FileNotFoundError,
            match=rf'^config {tmp_path / "chain.py"}: '
            r'model.detector_checkpoint: checkpoint det.pth does not exist$'):
        check_checkpoints(cfg)


def test_with_load_from_the_part_settings_are_left_to_the_loader(tmp_path):
    """A whole-model checkpoint may hold a part, whose setting is then never read."""
    (tmp_path / 'combined.pth').write_bytes(b'')
    check_checkpoints(
        _chain(
            tmp_path,
            load_from=str(tmp_path / 'combined.pth'),
            **{'model.detector_checkpoint': 'det.pth'}))
    with pytest.raises(FileNotFoundError, match='load_from: checkpoint gone.pth does not exist'):
        check_checkpoints(_chain(tmp_path, load_from='gone.pth'))
