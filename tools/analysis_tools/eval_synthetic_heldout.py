"""Evaluate a refiner on held-out synthetic samples: IoU and mBA before and after.

The samples come from seeds no training config uses (``1_000_000 + i``, the
held-out range of ``mmseg_refiner.datasets.synthetic``); each coarse mask is
made by the training-time synthesis (``GenerateCoarseMask`` with the options of
the config's training pipeline), seeded from the sample seed, so every run sees
the same inputs. Each sample is refined with :func:`mmseg_refiner.apis.refine`.

    python tools/analysis_tools/eval_synthetic_heldout.py [--config CFG --checkpoint CKPT]
        [--num 50] [--size 256] [--mode auto] [--seed 0] [--out heldout.json]

Without ``--config``/``--checkpoint`` the shipped demo model is evaluated.
Printed and written (``--out``): ``mean_iou`` / ``coarse_mean_iou`` (mean of
per-sample IoUs), ``iou`` / ``coarse_iou`` (total intersection over total
union), ``mba`` / ``coarse_mba`` (mean of per-sample mBAs), and per sample.
"""
import argparse
import math
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np
from mmengine.config import Config
from tqdm import tqdm

from mmseg_refiner.apis import demo_model_files, init_refiner, refine
from mmseg_refiner.datasets.synthetic import EVAL_SEED_OFFSET, SyntheticRefineDataset
from mmseg_refiner.evaluation.functional import (mask_record, summarize_mask_records,
                                                 write_json_atomic)
from mmseg_refiner.utils.cli import cli_main


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='IoU / mBA of coarse and refined masks on held-out synthetic samples')
    parser.add_argument('--config', help='model config (default: the demo model)')
    parser.add_argument('--checkpoint', help='model weights (default: the demo model)')
    parser.add_argument('--num', type=int, default=50, help='number of samples')
    parser.add_argument(
        '--size', type=int, nargs='+', default=[256], help='image size: one int (square) or H W')
    parser.add_argument(
        '--seed-offset',
        type=int,
        default=EVAL_SEED_OFFSET,
        help='seed of the first sample (default: the held-out range)')
    parser.add_argument('--mode', choices=['auto', 'instance', 'semantic'], default='auto')
    parser.add_argument('--seed', type=int, default=0, help='seed of the reverse diffusion')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the figures to this JSON file')
    args = parser.parse_args(argv)
    if args.checkpoint is not None and args.config is None:
        parser.error('--checkpoint needs --config (leave both out for the demo model)')
    if len(args.size) not in (1, 2):
        parser.error('--size takes one int or two (H W)')
    return args


def find_transform(node: Any, type_name: str) -> Optional[dict]:
    """The first dict with ``type == type_name`` anywhere in a (nested) config."""
    if isinstance(node, dict):
        if node.get('type') == type_name:
            return node
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = find_transform(child, type_name)
        if found is not None:
            return found
    return None


def training_coarse_options(cfg: Config) -> dict:
    """Options of the training pipeline's ``GenerateCoarseMask`` (its defaults if none)."""
    transform = find_transform(cfg.to_dict().get('train_dataloader', {}), 'GenerateCoarseMask')
    if transform is None:
        return {}
    return {k: v for k, v in transform.items() if k not in ('type', 'key_in', 'key_out')}


def evaluate(model, dataset, mode: str, seed: int) -> Dict[str, Any]:
    """Refine every sample; return the summary figures and the per-sample records."""
    samples = []
    records = []
    for index in tqdm(range(len(dataset)), desc='held-out', unit='sample'):
        sample = dataset[index]
        refined = refine(model, sample['img'], sample['coarse_mask'], mode=mode, seed=seed)
        record = mask_record(refined, sample['gt_mask'], sample['coarse_mask'])
        records.append(record)
        samples.append(
            dict(
                seed=int(sample['seed']),
                coarse_iou=_ratio(record['coarse_intersection'], record['coarse_union']),
                iou=_ratio(record['intersection'], record['union']),
                coarse_mba=record['coarse_mba'],
                mba=record['mba']))
    summary = summarize_mask_records(records)
    summary['coarse_mean_iou'] = float(np.mean([s['coarse_iou'] for s in samples]))
    summary['mean_iou'] = float(np.mean([s['iou'] for s in samples]))
    return dict(summary=summary, samples=samples)


def _ratio(intersection: int, union: int) -> float:
    return intersection / union if union else 1.0


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.config is None:
        args.config, args.checkpoint = demo_model_files()
    model = init_refiner(args.config, args.checkpoint, device=args.device)
    size = (args.size[0], args.size[-1])
    coarse_options = training_coarse_options(model.cfg)
    dataset = SyntheticRefineDataset(
        num_samples=args.num,
        image_size=size,
        seed_offset=args.seed_offset,
        fixed_coarse=True,
        coarse_cfg=coarse_options,
        test_mode=True,
        pipeline=[])
    start = time.time()
    result = evaluate(model, dataset, args.mode, args.seed)
    seconds = time.time() - start
    summary = result['summary']
    print(f'{args.num} held-out samples (seeds {args.seed_offset}..'
          f'{args.seed_offset + args.num - 1}), {size[0]}x{size[1]}, mode {args.mode}, '
          f'{seconds:.1f} s')
    print(f'{"":8s} {"mean IoU":>9s} {"IoU":>7s} {"mBA":>7s}')
    for name, prefix in (('coarse', 'coarse_'), ('refined', '')):
        print(f'{name:8s} {summary[prefix + "mean_iou"]:9.4f} {summary[prefix + "iou"]:7.4f} '
              f'{summary[prefix + "mba"]:7.4f}')
    report = dict(
        summary,
        num_samples=args.num,
        image_size=list(size),
        seeds=[args.seed_offset, args.seed_offset + args.num - 1],
        mode=args.mode,
        sampling_seed=args.seed,
        coarse_options=coarse_options,
        config=args.config,
        checkpoint=args.checkpoint,
        seconds=round(seconds, 1),
        samples=[{
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in s.items()
        } for s in result['samples']])
    if args.out:
        write_json_atomic(args.out, report)
        print(f'written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
