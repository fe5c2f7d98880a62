"""One resume mechanism for every long job, keyed by content, not by paths.

A job (refining a folder, refining a COCO results file, making the HR coarse
masks) keeps a **progress log** beside its output: a JSON-lines file whose
first line describes the job and whose other lines are its finished items::

    {"job": {"config": "<sha256>", "checkpoint": "<sha256>", "seed": 0}}
    {"name": "0001.jpg", "key": "<sha256 of the item's inputs>", "result": ...}

``job`` holds digests of what every item depends on (the model config, the
checkpoint file, the seed...). Re-running with another job is refused with
:class:`JobChangedError`, which names what changed and what to do. ``key`` is a
digest of what one item depends on (its name and the bytes of its input files,
its detections...): an item counts as finished only if its key is unchanged,
so an input edited in place between two runs is detected (:attr:`changed`
lists it) and done again, and no result is ever paired with inputs it was not
made from. Each line is flushed and fsynced when the item finishes; a last line
cut short by an interruption is dropped on the next run.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Union

from .atomic import write_bytes_atomic
from .images import read_bytes

#: The progress log of a job whose output is a folder, inside that folder.
FOLDER_LOG_NAME = '.segrefiner-progress.jsonl'


class JobChangedError(ValueError):
    """A progress log belongs to a job with other settings than this one."""


def digest(*parts: Union[bytes, str]) -> str:
    """sha256 (hex) of ``parts`` (each length-prefixed, so the split is part of it)."""
    sha = hashlib.sha256()
    for part in parts:
        data = part.encode('utf-8') if isinstance(part, str) else part
        sha.update(len(data).to_bytes(8, 'little'))
        sha.update(data)
    return sha.hexdigest()


def json_digest(obj: Any) -> str:
    """sha256 of ``obj`` as canonical JSON (sorted keys; non-JSON values by ``str``)."""
    return digest(json.dumps(obj, sort_keys=True, default=str))


def relative_name(path: str, folder: str) -> str:
    """How the progress log of ``folder`` names the output ``path`` inside it (``/``-separated)."""
    return osp.relpath(path, folder).replace(osp.sep, '/')


def files_digest(name: str, *paths: Union[str, os.PathLike]) -> str:
    """Digest of an item named ``name`` whose inputs are the files ``paths`` (their bytes)."""
    return digest(name, *(read_bytes(path) for path in paths))


def file_digest(path: Union[str, os.PathLike], chunk_size: int = 1 << 20) -> str:
    """sha256 (hex) of a file's bytes, read in chunks (large checkpoints)."""
    sha = hashlib.sha256()
    with open(os.fspath(path), 'rb') as file:
        for chunk in iter(lambda: file.read(chunk_size), b''):
            sha.update(chunk)
    return sha.hexdigest()


class ResumeLog:
    """The progress log of one job (module docstring).

    Args:
        path: the log file (created with its folder).
        job: ``{part: digest or value}`` of what every item depends on.
        restart_hint: what the user does to start the job afresh, quoted in
            :class:`JobChangedError` (e.g. ``'re-run with --overwrite'``).
    """

    def __init__(self, path: str, job: Dict[str, Any], restart_hint: str) -> None:
        self.path = path
        self.job = json.loads(json.dumps(job, sort_keys=True))  # as it reads back
        self.restart_hint = restart_hint
        self._done: Dict[str, dict] = {}
        #: Names of finished items whose inputs changed since (done again).
        self.changed: List[str] = []

    def open(self, restart: bool = False) -> int:
        """Load the finished items (or start a new log); return how many there are.

        Args:
            restart: forget the finished items and start the log afresh.

        Raises:
            JobChangedError: the log was written by a job with other settings.
            ValueError: a line other than the last is corrupt.
        """
        if restart or not osp.exists(self.path):
            self._rewrite([])
            return 0
        entries, cut_short = read_log(self.path, self.restart_hint)
        found = entries[0].get('job') if entries and isinstance(entries[0], dict) else None
        if found != self.job:
            raise JobChangedError(self._mismatch(found))
        self._done = {entry['name']: entry for entry in entries[1:]}
        if cut_short:
            self._rewrite(list(self._done.values()))
        return len(self._done)

    def _mismatch(self, found: Optional[dict]) -> str:
        if not isinstance(found, dict):
            return (f'{self.path} is not the progress log of such a job; {self.restart_hint} '
                    f'(this replaces it), or choose another output')
        parts = sorted(set(found) | set(self.job))
        changed = [part for part in parts if found.get(part) != self.job.get(part)]
        return (f'{self.path} holds finished work made with another {", ".join(changed)} than '
                f'this run\'s; re-run with the same settings to resume it, or '
                f'{self.restart_hint} to start again with these')

    def finished(self, name: str, key: str) -> Optional[Any]:
        """The result of item ``name`` if it was finished from inputs with digest ``key``.

        A finished item whose key differs (its inputs changed) returns None and
        is added to :attr:`changed`.
        """
        entry = self._done.get(name)
        if entry is None:
            return None
        if entry['key'] != key:
            self.changed.append(name)
            return None
        return entry['result']

    def add(self, name: str, key: str, result: Any) -> None:
        """Record item ``name`` (inputs digest ``key``) as finished with ``result``, durably."""
        entry = dict(name=name, key=key, result=result)
        with open(self.path, 'a', encoding='utf-8') as file:
            file.write(json.dumps(entry) + '\n')
            file.flush()
            os.fsync(file.fileno())
        self._done[name] = entry

    def _rewrite(self, entries: List[dict]) -> None:
        lines = [json.dumps(dict(job=self.job))] + [json.dumps(entry) for entry in entries]
        write_bytes_atomic(self.path, ('\n'.join(lines) + '\n').encode('utf-8'))


def read_log(path: str, restart_hint: str = 'delete it') -> tuple:
    """``(entries, cut_short)`` of a progress log: its lines, and whether the last was cut.

    Raises:
        ValueError: a line other than the last is corrupt.
    """
    with open(path, encoding='utf-8') as file:
        lines = [line for line in file.read().split('\n') if line]
    entries, cut_short = [], False
    for number, line in enumerate(lines):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            if number != len(lines) - 1:
                raise ValueError(f'progress log {path}: line {number + 1} is corrupt; '
                                 f'{restart_hint} to start the job again') from None
            cut_short = True
    return entries, cut_short


def finished_items(path: str) -> Dict[str, dict]:
    """``{name: entry}`` of a progress log's finished items, without checking its job.

    For a reader that only needs to know what is done (a dataset leaving out
    finished samples); whoever adds to the log checks the job. Empty when the
    log does not exist.
    """
    if not osp.exists(path):
        return {}
    entries, _ = read_log(path)
    return {entry['name']: entry for entry in entries[1:] if 'name' in entry}
