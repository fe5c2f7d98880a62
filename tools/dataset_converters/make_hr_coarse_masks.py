"""Make the offline coarse masks of the HR training set (DIS5K DIS-TR, ThinObject-5K).

Coarse-mask synthesis on multi-megapixel masks is too slow to run online, so the
HR recipe makes two coarse masks per ground truth once, beforehand:

- ``OUT_DIR/gt/<stem>.png``: the synthesis applied to the ground truth;
- ``OUT_DIR/filled/<stem>.png``: the synthesis applied to the ground truth with
  its holes filled (outer contours only).

(8-bit PNG, 0/255; the layout is ``mmseg_refiner.datasets.hr_refine.coarse_mask_paths``,
which ``HRRefineDataset`` reads.) Usage, for the paper's data::

    python tools/dataset_converters/make_hr_coarse_masks.py \\
        data/DIS5K/DIS-TR/gt data/DIS5K/DIS-TR/coarse --nproc 8
    python tools/dataset_converters/make_hr_coarse_masks.py \\
        data/ThinObject5K/masks data/ThinObject5K/coarse \\
        --list data/ThinObject5K/list/train.txt --nproc 8

Ground truths are read under the package's one mask rule
(``mmseg_refiner.fileio.masks``: 0/1 and 0/255 alike, JPEG noise ignored).

The job is resumable with the package's one resume mechanism
(``mmseg_refiner.fileio.resume``): ``OUT_DIR/.segrefiner-progress.jsonl`` records
each finished ground truth by the digest of its file's bytes and the digests of
its two outputs, so a re-run skips exactly the masks whose ground truth and
outputs are unchanged, and remakes those whose ground truth was edited (it says
which). A re-run with another ``--seed`` or ``--iou-target`` is refused (it would
mix coarse masks of two settings in one folder). Each file is written to a
temporary file in the same folder and renamed into place, so a killed run never
leaves a partial PNG under an output name. Each output is seeded from
``--seed``, the mask's file name and the variant, so a rerun (or a remade
deleted file) is identical. Masks that cannot be used (unreadable, no
foreground) are reported by name at the end and the exit status is 1; the
others are still written.
"""
import argparse
import multiprocessing
import numpy as np
import os
import os.path as osp
import sys
import zlib
from functools import partial
from tqdm import tqdm
from typing import List, NamedTuple, Optional, Sequence

from mmseg_refiner import fileio
from mmseg_refiner.cli.args import add_input_arg, add_output_arg, parse_checked_args
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.datasets.coarse_mask_synthesis import (SYNTHESIS_VERSION, CoarseMaskOptions,
                                                          synthesize_coarse_mask)
from mmseg_refiner.datasets.hr_refine import COARSE_VARIANTS, coarse_mask_paths, read_name_list
from mmseg_refiner.utils.settings import check_int

#: Synthesis options of each variant (keys: ``COARSE_VARIANTS``).
VARIANT_OPTIONS = {'gt': dict(fill_holes=False), 'filled': dict(fill_holes=True)}
assert tuple(VARIANT_OPTIONS) == COARSE_VARIANTS


class Job(NamedTuple):
    stem: str
    mask_path: str
    key: str = ''  # digest of the mask file's bytes and its stem


class Outcome(NamedTuple):
    """What happened to one mask: ``status`` is 'written', 'skipped' or 'failed'."""
    status: str
    mask_path: str
    num_written: int = 0
    reason: str = ''
    stem: str = ''
    key: str = ''
    outputs: tuple = ()  # digests of the written files, in COARSE_VARIANTS order


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Make the two offline coarse masks per ground truth of the HR training set.')
    add_input_arg(parser, 'mask_dir', folder=True, help='folder of ground-truth masks')
    add_output_arg(
        parser,
        'out_dir',
        folder=True,
        help='coarse folder: gets gt/<stem>.png and filled/<stem>.png')
    add_input_arg(
        parser,
        '--list',
        dest='list_file',
        help='only the names in this file, one per line (with or '
        'without extension), e.g. ThinObject5K/list/train.txt')
    parser.add_argument('--mask-suffix', default='.png', help='mask file suffix (default .png)')
    parser.add_argument(
        '--iou-target', type=float, default=0.8, help='synthesis IoU target (default 0.8)')
    parser.add_argument('--seed', type=int, default=0, help='base seed (default 0)')
    parser.add_argument(
        '--nproc', type=int, default=min(8,
                                         os.cpu_count() or 1), help='worker processes')
    return parse_checked_args(parser, argv)


def list_jobs(mask_dir: str, mask_suffix: str, list_file: Optional[str]) -> List[Job]:
    """The ground truths to process: the listed stems, else every ``*<mask_suffix>`` file."""
    if list_file is not None:
        return [
            Job(stem, osp.join(mask_dir, stem + mask_suffix)) for stem in read_name_list(list_file)
        ]
    masks = fileio.index_folder(mask_dir, mask_suffix, what='mask')
    return [Job(stem, path) for stem, path in masks.items()]


def with_key(job: Job) -> Job:
    """``job`` with the digest of its mask file (empty when it cannot be read)."""
    try:
        with open(job.mask_path, 'rb') as file:
            return job._replace(key=fileio.digest(job.stem, file.read()))
    except OSError:
        return job


def output_seed(base_seed: int, stem: str, variant_index: int) -> List[int]:
    """Seed of one output: independent of the processing order and of the other outputs."""
    return [base_seed, zlib.crc32(stem.encode('utf-8')), variant_index]


def outputs_intact(paths: Sequence[str], digests: Sequence[str]) -> bool:
    """Whether every output exists with the digest recorded when it was written."""
    return len(paths) == len(digests) and all(
        osp.isfile(path) and fileio.file_digest(path) == expected
        for path, expected in zip(paths, digests))


def make_coarse_masks(job: Job, out_dir: str, iou_target: float, seed: int) -> Outcome:
    """Write the coarse masks of one ground truth; never raises."""
    try:
        truth = fileio.read_mask(job.mask_path, warn_empty=False).astype(np.uint8)
    except (OSError, ValueError) as error:
        return Outcome('failed', job.mask_path, reason=str(error))
    if not truth.any():
        return Outcome(
            'failed',
            job.mask_path,
            reason='no foreground under the mask rule '
            '(mmseg_refiner.fileio.masks)')
    digests = []
    try:
        for index, path in enumerate(coarse_mask_paths(out_dir, job.stem)):
            options = CoarseMaskOptions(
                iou_target=iou_target, **VARIANT_OPTIONS[COARSE_VARIANTS[index]])
            coarse = synthesize_coarse_mask(
                truth, options, rng=np.random.default_rng(output_seed(seed, job.stem, index)))
            fileio.write_mask_png(path, coarse)
            digests.append(fileio.file_digest(path))
    except Exception as error:  # report and go on: a long job keeps what it finished
        return Outcome('failed', job.mask_path, reason=f'{type(error).__name__}: {error}')
    return Outcome(
        'written',
        job.mask_path,
        num_written=len(digests),
        stem=job.stem,
        key=job.key,
        outputs=tuple(digests))


def run(jobs: Sequence[Job], worker, nproc: int, log: fileio.ResumeLog) -> List[Outcome]:
    """Run ``worker`` on every job, recording each finished one in ``log`` at once."""
    progress = partial(tqdm, total=len(jobs), unit='mask', desc='coarse masks')
    if nproc <= 1:
        results = map(worker, jobs)
        return [_recorded(outcome, log) for outcome in progress(results)]
    with multiprocessing.Pool(nproc) as pool:
        results = pool.imap_unordered(worker, jobs, chunksize=1)
        return [_recorded(outcome, log) for outcome in progress(results)]


def _recorded(outcome: Outcome, log: fileio.ResumeLog) -> Outcome:
    if outcome.status == 'written':
        log.add(outcome.stem, outcome.key, list(outcome.outputs))
    return outcome


def summarize(outcomes: Sequence[Outcome]) -> str:
    written = [o for o in outcomes if o.status == 'written']
    skipped = sum(o.status == 'skipped' for o in outcomes)
    failed = [o for o in outcomes if o.status == 'failed']
    lines = [
        f'{len(outcomes)} masks: {len(written)} processed '
        f'({sum(o.num_written for o in written)} files written), {skipped} already done, '
        f'{len(failed)} failed'
    ]
    lines += [f'  failed: {o.mask_path}: {o.reason}' for o in sorted(failed)]
    return '\n'.join(lines)


@cli_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    for variant in COARSE_VARIANTS:  # once, up front, not file by file
        CoarseMaskOptions(iou_target=args.iou_target, **VARIANT_OPTIONS[variant])
    check_int('make_hr_coarse_masks', '--nproc', args.nproc, low=1)
    if not osp.isdir(args.mask_dir):
        raise FileNotFoundError(f'mask folder {args.mask_dir} does not exist')
    jobs = [with_key(job) for job in list_jobs(args.mask_dir, args.mask_suffix, args.list_file)]
    for variant in COARSE_VARIANTS:
        os.makedirs(osp.join(args.out_dir, variant), exist_ok=True)
    log = fileio.ResumeLog(
        osp.join(args.out_dir, fileio.FOLDER_LOG_NAME),
        dict(
            tool='make_hr_coarse_masks',
            seed=args.seed,
            iou_target=args.iou_target,
            synthesis=SYNTHESIS_VERSION),
        restart_hint=f'delete {osp.join(args.out_dir, fileio.FOLDER_LOG_NAME)}')
    log.open()
    skipped, todo = [], []
    for job in jobs:
        outputs = log.finished(job.stem, job.key) if job.key else None
        if outputs is not None and outputs_intact(
                coarse_mask_paths(args.out_dir, job.stem), outputs):
            skipped.append(Outcome('skipped', job.mask_path))
        else:
            todo.append(job)
    if log.changed:
        print(f'{len(log.changed)} ground truths changed since their coarse masks were made; '
              f'made again: {", ".join(sorted(log.changed)[:10])}' +
              (' ...' if len(log.changed) > 10 else ''))
    worker = partial(
        make_coarse_masks, out_dir=args.out_dir, iou_target=args.iou_target, seed=args.seed)
    outcomes = skipped + run(todo, worker, args.nproc, log)
    print(summarize(outcomes))
    return 1 if any(o.status == 'failed' for o in outcomes) else 0


if __name__ == '__main__':
    sys.exit(main())
