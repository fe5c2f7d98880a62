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

The job is resumable: outputs that exist are skipped, so an interrupted run
continues where it stopped. Each file is written to a temporary file in the
same folder and renamed into place, so a killed run never leaves a partial
PNG under an output name. Each output is seeded from ``--seed``, the mask's
file name and the variant, so a rerun (or a remade deleted file) is identical.
Masks that cannot be used (unreadable, no foreground) are reported by name at
the end and the exit status is 1; the others are still written.
"""
import argparse
import multiprocessing
import os
import os.path as osp
import sys
import zlib
from functools import partial
from typing import List, NamedTuple, Optional, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from mmseg_refiner.datasets.hr_refine import COARSE_VARIANTS, coarse_mask_paths, read_name_list
from mmseg_refiner.datasets.transforms.coarse_mask import synthesize_coarse_mask
from mmseg_refiner.utils.atomic_io import write_bytes_atomic
from mmseg_refiner.utils.checks import check_output_folder
from mmseg_refiner.utils.cli import cli_main

#: Synthesis options of each variant (keys: ``COARSE_VARIANTS``).
VARIANT_OPTIONS = {'gt': dict(fill_holes=False), 'filled': dict(fill_holes=True)}
assert tuple(VARIANT_OPTIONS) == COARSE_VARIANTS


class Job(NamedTuple):
    stem: str
    mask_path: str


class Outcome(NamedTuple):
    """What happened to one mask: ``status`` is 'written', 'skipped' or 'failed'."""
    status: str
    mask_path: str
    num_written: int = 0
    reason: str = ''


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Make the two offline coarse masks per ground truth of the HR training set.')
    parser.add_argument('mask_dir', help='folder of ground-truth masks (8-bit, 0/255)')
    parser.add_argument('out_dir', help='coarse folder: gets gt/<stem>.png and filled/<stem>.png')
    parser.add_argument(
        '--list',
        dest='list_file',
        help='only the names in this file, one per line (with or '
        'without extension), e.g. ThinObject5K/list/train.txt')
    parser.add_argument('--mask-suffix', default='.png', help='mask file suffix (default .png)')
    parser.add_argument(
        '--threshold', type=int, default=128, help='stored value counted as foreground (>=)')
    parser.add_argument(
        '--iou-target', type=float, default=0.8, help='synthesis IoU target (default 0.8)')
    parser.add_argument('--seed', type=int, default=0, help='base seed (default 0)')
    parser.add_argument(
        '--nproc', type=int, default=min(8,
                                         os.cpu_count() or 1), help='worker processes')
    return parser.parse_args(argv)


def list_jobs(mask_dir: str, mask_suffix: str, list_file: Optional[str]) -> List[Job]:
    if list_file is not None:
        stems = read_name_list(list_file)
    else:
        stems = sorted(name[:-len(mask_suffix)] for name in os.listdir(mask_dir)
                       if name.endswith(mask_suffix))
    return [Job(stem, osp.join(mask_dir, stem + mask_suffix)) for stem in stems]


def output_seed(base_seed: int, stem: str, variant_index: int) -> List[int]:
    """Seed of one output: independent of the processing order and of the other outputs."""
    return [base_seed, zlib.crc32(stem.encode('utf-8')), variant_index]


def write_png_atomically(path: str, image: np.ndarray) -> None:
    """Write ``image`` as PNG to ``path`` through a temporary file in the same folder."""
    ok, encoded = cv2.imencode('.png', image)
    if not ok:
        raise OSError(f'cannot encode {path} as PNG')
    write_bytes_atomic(path, encoded.tobytes())


def make_coarse_masks(job: Job, out_dir: str, threshold: int, iou_target: float,
                      seed: int) -> Outcome:
    """Write the missing coarse masks of one ground truth; never raises."""
    outputs = coarse_mask_paths(out_dir, job.stem)
    todo = [(index, path) for index, path in enumerate(outputs) if not osp.exists(path)]
    if not todo:
        return Outcome('skipped', job.mask_path)
    try:
        stored = cv2.imread(job.mask_path, cv2.IMREAD_GRAYSCALE)
        if stored is None:
            return Outcome(
                'failed',
                job.mask_path,
                reason='cannot read the mask (missing, not '
                'an image, or corrupt)')
        truth = (stored >= threshold).astype(np.uint8)
        if not truth.any():
            return Outcome(
                'failed', job.mask_path, reason=f'no foreground (no value >= {threshold})')
        for index, path in todo:
            coarse = synthesize_coarse_mask(
                truth,
                rng=np.random.default_rng(output_seed(seed, job.stem, index)),
                iou_target=iou_target,
                **VARIANT_OPTIONS[COARSE_VARIANTS[index]])
            write_png_atomically(path, coarse * np.uint8(255))
    except Exception as error:  # report and go on: a long job keeps what it finished
        return Outcome('failed', job.mask_path, reason=f'{type(error).__name__}: {error}')
    return Outcome('written', job.mask_path, num_written=len(todo))


def run(jobs: Sequence[Job], worker, nproc: int) -> List[Outcome]:
    progress = partial(tqdm, total=len(jobs), unit='mask', desc='coarse masks')
    if nproc <= 1:
        return [worker(job) for job in progress(jobs)]
    with multiprocessing.Pool(nproc) as pool:
        return list(progress(pool.imap_unordered(worker, jobs, chunksize=1)))


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
    check_output_folder(args.out_dir, [args.mask_dir], 'out_dir')
    if not osp.isdir(args.mask_dir):
        print(f'error: mask folder {args.mask_dir} does not exist', file=sys.stderr)
        return 2
    jobs = list_jobs(args.mask_dir, args.mask_suffix, args.list_file)
    for variant in COARSE_VARIANTS:
        os.makedirs(osp.join(args.out_dir, variant), exist_ok=True)
    worker = partial(
        make_coarse_masks,
        out_dir=args.out_dir,
        threshold=args.threshold,
        iou_target=args.iou_target,
        seed=args.seed)
    outcomes = run(jobs, worker, args.nproc)
    print(summarize(outcomes))
    return 1 if any(o.status == 'failed' for o in outcomes) else 0


if __name__ == '__main__':
    sys.exit(main())
