"""IoU and mBA of a folder of predicted masks against ground truth.

    python tools/analysis_tools/eval_mask_folders.py --gt DIR --pred DIR [--coarse DIR] \\
        --out METRICS.json [--gt-suffix _gt] [--pred-suffix _refine] [--coarse-suffix _seg] \\
        [--nproc N]

Files are matched by name stem after removing each folder's suffix (BIG:
``--gt-suffix _gt --coarse-suffix _seg``; DIS5K: no suffixes); two files of a
folder with the same key (``a.png`` and ``a.jpg``) are an error. Masks are read
under the package's one mask rule (``mmseg_refiner.fileio.masks``: 0/1 and 0/255
alike, JPEG noise ignored, palette PNGs by index). ``iou`` is total intersection / total union over
the images, ``mba`` the mean of CascadePSP's boundary accuracy over images.

Ground truths without a prediction (or coarse mask), unreadable files and size
mismatches are listed, left out of the figures, recorded under ``problems`` in
the JSON, and make the exit code 1. Predictions without ground truth are listed
as a warning.
"""
import argparse
import multiprocessing
import sys
from functools import partial
from tqdm import tqdm
from typing import Dict, List, Tuple

from mmseg_refiner.cli.args import add_input_arg, add_output_arg, parse_checked_args
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.evaluation.functional import (MIN_RADIUS, NUM_RADII, RADIUS_DIVISOR, MaskFiles,
                                                 check_mba_settings, evaluate_mask_files,
                                                 match_mask_folders, summarize_mask_records)
from mmseg_refiner.fileio import write_json_atomic
from mmseg_refiner.utils.settings import check_int

#: Entries of a problem list printed before "... and N more" (the JSON has all).
SHOWN_PER_PROBLEM = 20


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='IoU and mBA of predicted mask folders')
    add_input_arg(parser, '--gt', required=True, folder=True, help='folder of ground-truth masks')
    add_input_arg(
        parser, '--pred', required=True, folder=True, help='folder of predicted (refined) masks')
    add_input_arg(
        parser, '--coarse', folder=True, help='folder of coarse masks, reported as coarse_*')
    add_output_arg(
        parser, '--out', required=True, formats=('.json', ), help='metrics JSON to write')
    parser.add_argument('--gt-suffix', default='', help='name suffix of ground truths, e.g. _gt')
    parser.add_argument('--pred-suffix', default='', help='name suffix of predictions')
    parser.add_argument('--coarse-suffix', default='', help='name suffix of coarse masks')
    parser.add_argument('--num-radii', type=int, default=NUM_RADII, help='mBA radii')
    parser.add_argument('--min-radius', type=int, default=MIN_RADIUS, help='smallest mBA radius')
    parser.add_argument(
        '--radius-divisor',
        type=float,
        default=RADIUS_DIVISOR,
        help='largest mBA radius scale R = (w + h) / divisor')
    parser.add_argument('--nproc', type=int, default=1, help='processes reading and scoring')
    return parse_checked_args(parser, argv)


def score_all(files: List[MaskFiles], nproc: int, mba_kwargs: dict) -> List[dict]:
    """Per-image records (or errors) in the order of ``files``, with a progress bar."""
    score = partial(evaluate_mask_files, **mba_kwargs)
    progress = partial(tqdm, total=len(files), desc='scoring masks', unit='image')
    if nproc <= 1:
        return list(progress(map(score, files)))
    with multiprocessing.Pool(nproc) as pool:
        return list(progress(pool.imap(score, files)))


def print_problem(title: str, entries: List[str]) -> None:
    print(f'{title} ({len(entries)}):', file=sys.stderr)
    for entry in entries[:SHOWN_PER_PROBLEM]:
        print(f'  {entry}', file=sys.stderr)
    if len(entries) > SHOWN_PER_PROBLEM:
        print(
            f'  ... and {len(entries) - SHOWN_PER_PROBLEM} more (all in the metrics JSON)',
            file=sys.stderr)


def evaluate(args: argparse.Namespace) -> Tuple[Dict[str, float], List[dict], dict]:
    """``(summary, records, problems)`` of the folders."""
    mba_kwargs = check_mba_settings('eval_mask_folders', args.num_radii, args.min_radius,
                                    args.radius_divisor,
                                    ('--num-radii', '--min-radius', '--radius-divisor'))
    check_int('eval_mask_folders', '--nproc', args.nproc, low=1)
    match = match_mask_folders(args.gt, args.pred, args.coarse, args.gt_suffix, args.pred_suffix,
                               args.coarse_suffix)
    scored = score_all(match.matched, args.nproc, mba_kwargs)
    records = [r for r in scored if 'error' not in r]
    problems = {
        'missing_pred': match.missing_pred,
        'missing_coarse': match.missing_coarse,
        'unreadable_or_size_mismatch':
        [f'{r["key"]}: {r["error"]}' for r in scored if 'error' in r],
    }
    problems = {name: entries for name, entries in problems.items() if entries}
    if match.extra_pred:
        print_problem(f'warning: predictions without ground truth in {args.pred}, ignored',
                      match.extra_pred)
    return summarize_mask_records(records), records, problems


@cli_main
def main(argv=None) -> int:
    args = parse_args(argv)
    summary, records, problems = evaluate(args)
    titles = {
        'missing_pred': f'ground truths without a prediction in {args.pred}',
        'missing_coarse': f'ground truths without a coarse mask in {args.coarse}',
        'unreadable_or_size_mismatch': 'unreadable or size-mismatched files',
    }
    for name, entries in problems.items():
        print_problem(f'error: {titles[name]}, left out', entries)
    if not records:
        raise ValueError('no image could be evaluated; nothing written')
    print(f'\nimages evaluated: {len(records)}')
    for key, value in summary.items():
        print(f'{key:>12}: {value:.4f}')
    report = dict(summary, num_images=len(records))
    if problems:
        report['problems'] = problems
    write_json_atomic(args.out, report)
    print(f'metrics written to {args.out}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
