"""The one resume mechanism: keyed by content, refusing other jobs, surviving cut lines."""
import pytest

from mmseg_refiner.fileio import JobChangedError, ResumeLog, digest


def test_finished_items_come_back_only_with_unchanged_inputs(tmp_path):
    path = str(tmp_path / 'out.progress.jsonl')
    log = ResumeLog(path, dict(model='m1', seed=0), 'use --overwrite')
    assert log.open() == 0
    log.add('a', digest('a', b'image a'), [1, 2])
    log.add('b', digest('b', b'image b'), [3])

    again = ResumeLog(path, dict(seed=0, model='m1'), 'use --overwrite')
    assert again.open() == 2
    assert again.finished('a', digest('a', b'image a')) == [1, 2]
    assert again.finished('b', digest('b', b'image b, edited')) is None
    assert again.finished('c', digest('c', b'image c')) is None
    assert again.changed == ['b']


def test_another_job_is_refused_naming_what_changed(tmp_path):
    path = str(tmp_path / 'log.jsonl')
    ResumeLog(path, dict(model='m1', checkpoint='c1', seed=0), 'x').open()
    with pytest.raises(JobChangedError, match=r'checkpoint, seed .*use --overwrite'):
        ResumeLog(path, dict(model='m1', checkpoint='c2', seed=1), 'use --overwrite').open()
    # starting afresh replaces the log
    fresh = ResumeLog(path, dict(model='m1', checkpoint='c2', seed=1), 'x')
    assert fresh.open(restart=True) == 0


def test_a_last_line_cut_short_is_dropped_and_a_corrupt_one_refused(tmp_path):
    path = tmp_path / 'log.jsonl'
    log = ResumeLog(str(path), dict(seed=0), 'delete it')
    log.open()
    log.add('a', 'ka', 1)
    with open(path, 'a') as f:
        f.write('{"name": "b", "key": "kb", "res')  # killed mid-write
    again = ResumeLog(str(path), dict(seed=0), 'delete it')
    assert again.open() == 1 and again.finished('a', 'ka') == 1
    assert path.read_text().count('\n') == 2  # the cut line is gone
    with open(path, 'a') as f:
        f.write('garbage\n{"name": "c", "key": "kc", "result": 2}\n')
    with pytest.raises(ValueError, match='line 3 is corrupt; delete it'):
        ResumeLog(str(path), dict(seed=0), 'delete it').open()
