"""Evaluate a refiner on held-out synthetic samples: IoU and mBA before and after.

The samples come from seeds no training config uses (``1_000_000 + i``, the
held-out range of ``mmseg_refiner.datasets.synthetic``); each coarse mask is
made by the training-time synthesis (``GenerateCoarseMask`` with the options of
the config's training pipeline), seeded from the sample seed, so every run sees
the same inputs. Each sample is refined with :func:`mmseg_refiner.apis.refine`.

    python tools/analysis_tools/eval_synthetic_heldout.py [--config CFG --checkpoint CKPT]
        [--num 50] [--size 256] [--mode auto] [--seed 0] [--out heldout.json]
        [--precision fp32 auto] [--timesteps 5,4,3,2,1,0 5,3,0]
        [--guard none distance=8 components distance=8,components] [--early-stop none 0 0.001]
        [--cfg-options k=v ...]

Without ``--config``/``--checkpoint`` the shipped demo model is evaluated.
Printed and written (``--out``): ``mean_iou`` / ``coarse_mean_iou`` (mean of
per-sample IoUs), ``iou`` / ``coarse_iou`` (total intersection over total
union), ``mba`` / ``coarse_mba`` (mean of per-sample mBAs), seconds per
sample, ``network_rows_per_sample`` (masks and patches through the network,
summed over steps: the steps a one-mask sample ran in instance mode),
``worst_iou_change`` (the lowest per-sample IoU minus coarse IoU: negative is
a sample the refinement made worse), and per sample. With several
``--precision``, ``--timesteps``, ``--guard`` (``test_cfg.max_change``:
``none``, ``distance=D``, ``components`` or ``distance=D,components``) and/or
``--early-stop`` (``test_cfg.early_stop``: ``none`` or ``max_changed``) values
the same samples are refined by each combination, interleaved sample by sample
(a busy machine slows them alike), and ``agreement_mean_iou`` /
``worst_agreement_iou`` are the mean / lowest IoU between each run's refined
masks and the first run's, ``worst_iou_vs_first`` the lowest per-sample IoU
minus the first run's. ``--timesteps`` sets the instance refiner's ``timesteps``
and splits the same steps between the global-local refiner's global pass (all
but the last) and local patches (the last): in ``--mode instance`` and
``--mode global_local`` only that mode's refiner, in ``--mode auto`` both.
"""
import argparse
import math
import numpy as np
import os.path as osp
import sys
import time
from mmengine.config import Config, DictAction
from tqdm import tqdm
from typing import Any, Dict, List, Optional

from mmseg_refiner.apis import MODES, demo_model_files, init_refiner, refine
from mmseg_refiner.cli.args import add_input_arg, add_output_arg, parse_checked_args
from mmseg_refiner.cli.errors import UsageError, cli_main
from mmseg_refiner.datasets.synthetic import (DEMO_SEED_OFFSET, EVAL_SEED_OFFSET,
                                              SyntheticRefineDataset)
from mmseg_refiner.evaluation.functional import mask_record, summarize_mask_records
from mmseg_refiner.fileio import write_json_atomic
from mmseg_refiner.models.utils import PRECISIONS
from mmseg_refiner.utils.checks import check_common_args


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='IoU / mBA of coarse and refined masks on held-out synthetic samples')
    add_input_arg(parser, '--config', help='model config (default: the demo model)')
    add_input_arg(parser, '--checkpoint', help='model weights (default: the demo model)')
    parser.add_argument('--num', type=int, default=50, help='number of samples')
    parser.add_argument(
        '--size', type=int, nargs='+', default=[256], help='image size: one int (square) or H W')
    parser.add_argument(
        '--seed-offset',
        type=int,
        default=EVAL_SEED_OFFSET,
        help='seed of the first sample (default: the held-out range)')
    parser.add_argument(
        '--mode',
        choices=MODES,
        default='auto',
        help="how each mask is refined, as tools/refine.py --mode (default: 'auto')")
    parser.add_argument('--seed', type=int, default=0, help='seed of the reverse diffusion')
    parser.add_argument('--device', help='default: CUDA when available, else the CPU')
    parser.add_argument(
        '--precision',
        nargs='+',
        choices=PRECISIONS,
        help="the network's precision(s) (default: the config's test_cfg.precision); several "
        'are run side by side and compared')
    parser.add_argument(
        '--timesteps',
        nargs='+',
        type=lambda text: tuple(int(t) for t in text.split(',') if t.strip()),
        help='reverse steps to run, comma-separated (e.g. 5,3,0); several are compared '
        '(default: all steps)')
    parser.add_argument(
        '--guard',
        nargs='+',
        type=guard_option,
        help='do-no-harm guard(s) (test_cfg.max_change): none, distance=D, components, '
        'distance=D,components; several are compared (default: the config\'s)')
    parser.add_argument(
        '--early-stop',
        nargs='+',
        type=early_stop_option,
        help='early stop(s) (test_cfg.early_stop): none, or the max_changed fraction '
        '(e.g. 0); several are compared (default: the config\'s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.instance_refiner.timesteps="(5,3,0)"')
    add_output_arg(parser, '--out', formats=('.json', ), help='write the figures to this JSON file')
    args = parse_checked_args(parser, argv)
    if args.checkpoint is not None and args.config is None:
        parser.error('--checkpoint needs --config (leave both out for the demo model)')
    if len(args.size) not in (1, 2):
        parser.error('--size takes one int or two (H W)')
    return args


#: A run setting the config leaves as it is.
KEEP = object()


def guard_option(text: str) -> Optional[dict]:
    """``--guard`` text as a ``test_cfg.max_change`` value (None for ``none``)."""
    if text == 'none':
        return None
    guard = {}
    for part in text.split(','):
        if part == 'components':
            guard['drop_new_components'] = True
        elif part.startswith('distance='):
            guard['distance'] = float(part[len('distance='):])
        else:
            raise argparse.ArgumentTypeError(
                f'{text!r}: use none, distance=D, components or distance=D,components')
    return guard


def early_stop_option(text: str) -> Optional[dict]:
    """``--early-stop`` text as a ``test_cfg.early_stop`` value (None for ``none``)."""
    return None if text == 'none' else dict(max_changed=float(text))


def run_name(precision: str, timesteps: Optional[tuple], guard, early_stop) -> str:
    """A run's row title in the printed table."""
    parts = [
        f'precision {precision}',
        'all steps' if timesteps is None else f'steps {",".join(map(str, timesteps))}'
    ]
    if guard is not KEEP:
        parts.append('no guard' if guard is None else 'guard ' +
                     ','.join(f'{k}={v}' for k, v in guard.items()))
    if early_stop is not KEEP:
        parts.append(
            'no early stop' if early_stop is None else f'early stop {early_stop["max_changed"]:g}')
    return ', '.join(parts)


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


def row_counter(count: List[int]):
    """A forward hook adding the rows of each network input to ``count[0]``."""

    def hook(module, args, output) -> None:
        count[0] += args[0].shape[0]

    return hook


def evaluate(models: list, dataset, mode: str, seed: int) -> List[Dict[str, Any]]:
    """Refine every sample with each model, interleaved (so that a busy machine slows
    every model alike); per model the summary figures, the per-sample records and
    the refined masks."""
    runs = [dict(samples=[], records=[], masks=[], seconds=0.0, rows=[0]) for _ in models]
    for model, run in zip(models, runs):
        model.denoiser.register_forward_hook(row_counter(run['rows']))
    for index in tqdm(range(len(dataset)), desc='held-out', unit='sample'):
        sample = dataset[index]
        for model, run in zip(models, runs):
            start = time.perf_counter()
            refined = refine(
                model,
                sample['img'],
                sample['coarse_mask'],
                mode=mode,
                seed=seed,
                name=osp.basename(sample['img_path']))
            run['seconds'] += time.perf_counter() - start
            record = mask_record(refined, sample['gt_mask'], sample['coarse_mask'])
            run['masks'].append(refined)
            run['records'].append(record)
            run['samples'].append(
                dict(
                    seed=int(sample['seed']),
                    coarse_iou=_ratio(record['coarse_intersection'], record['coarse_union']),
                    iou=_ratio(record['intersection'], record['union']),
                    coarse_mba=record['coarse_mba'],
                    mba=record['mba']))
    results = []
    for run in runs:
        summary = summarize_mask_records(run['records'])
        summary['coarse_mean_iou'] = float(np.mean([s['coarse_iou'] for s in run['samples']]))
        summary['mean_iou'] = float(np.mean([s['iou'] for s in run['samples']]))
        summary['seconds_per_sample'] = run['seconds'] / max(len(dataset), 1)
        summary['network_rows_per_sample'] = run['rows'][0] / max(len(dataset), 1)
        summary['worst_iou_change'] = float(
            min((s['iou'] - s['coarse_iou'] for s in run['samples']), default=0.0))
        results.append(dict(summary=summary, samples=run['samples'], masks=run['masks']))
    return results


def steps_options(timesteps: Optional[tuple], mode: str) -> dict:
    """Config overrides that run ``timesteps`` in the refiner(s) ``mode`` uses."""
    if timesteps is None:
        return {}
    options = {}
    if mode in ('auto', 'instance'):
        options['model.instance_refiner.timesteps'] = timesteps
    if mode == 'global_local' and len(timesteps) < 2:
        raise UsageError(f'--timesteps {",".join(map(str, timesteps))}: the global-local mode '
                         f'needs at least 2 steps (the global pass, then the local patches)')
    if mode in ('auto', 'global_local') and len(timesteps) > 1:
        options['model.global_local_refiner.global_timesteps'] = timesteps[:-1]
        options['model.global_local_refiner.local_timesteps'] = timesteps[-1:]
    return options


def _ratio(intersection: int, union: int) -> float:
    return intersection / union if union else 1.0


def sample_agreements(masks: List[np.ndarray], reference: List[np.ndarray]) -> List[float]:
    """Per sample the IoU between two runs' refined masks (1 where both are empty)."""
    return [_ratio(int((a & b).sum()), int((a | b).sum())) for a, b in zip(masks, reference)]


def trust_options(guard, early_stop) -> dict:
    """Config overrides of a run's ``--guard`` and ``--early-stop`` values."""
    options = {}
    if guard is not KEEP:
        options['model.test_cfg.max_change'] = guard
    if early_stop is not KEEP:
        options['model.test_cfg.early_stop'] = early_stop
    return options


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_common_args(args)
    if args.config is None:
        args.config, args.checkpoint = demo_model_files()
    runs = [(precision, timesteps, guard, early_stop) for precision in (args.precision or [None])
            for timesteps in (args.timesteps or [None]) for guard in (args.guard or [KEEP])
            for early_stop in (args.early_stop or [KEEP])]
    models = [
        init_refiner(
            args.config,
            args.checkpoint,
            device=args.device,
            cfg_options=dict(args.cfg_options or {}, **steps_options(timesteps, args.mode),
                             **trust_options(guard, early_stop)),
            precision=precision) for precision, timesteps, guard, early_stop in runs
    ]
    size = (args.size[0], args.size[-1])
    coarse_options = training_coarse_options(models[0].cfg)
    dataset = SyntheticRefineDataset(
        num_samples=args.num,
        image_size=size,
        seed_offset=args.seed_offset,
        fixed_coarse=True,
        coarse_cfg=coarse_options,
        test_mode=True,
        pipeline=[])
    results = evaluate(models, dataset, args.mode, args.seed)
    held_out = EVAL_SEED_OFFSET <= args.seed_offset and \
        args.seed_offset + args.num <= DEMO_SEED_OFFSET
    print(f'{args.num} {"held-out " if held_out else ""}samples (seeds {args.seed_offset}..'
          f'{args.seed_offset + args.num - 1}), {size[0]}x{size[1]}, --mode {args.mode}' +
          (f', {args.cfg_options}' if args.cfg_options else ''))
    width = max(34, *(len(run_name('bf16', *run[1:])) for run in runs))
    print(f'{"":{width}s} {"mean IoU":>9s} {"IoU":>7s} {"mBA":>7s} {"worst dIoU":>10s} '
          f'{"rows/sample":>11s} {"s/sample":>9s} {"agreement":>9s} {"worst agr":>9s} '
          f'{"vs first":>8s}')
    coarse = results[0]['summary']
    print(f'{"coarse":{width}s} {coarse["coarse_mean_iou"]:9.4f} {coarse["coarse_iou"]:7.4f} '
          f'{coarse["coarse_mba"]:7.4f}')
    reports = []
    for model, result, (_, timesteps, guard, early_stop) in zip(models, results, runs):
        summary = result['summary']
        precision = model.test_cfg['precision']
        agreements = sample_agreements(result['masks'], results[0]['masks'])
        summary['agreement_mean_iou'] = float(np.mean(agreements))
        summary['worst_agreement_iou'] = float(np.min(agreements))
        summary['worst_iou_vs_first'] = float(
            min(s['iou'] - first['iou']
                for s, first in zip(result['samples'], results[0]['samples'])))
        name = run_name(precision, timesteps, guard, early_stop)
        print(f'{name:{width}s} {summary["mean_iou"]:9.4f} {summary["iou"]:7.4f} '
              f'{summary["mba"]:7.4f} {summary["worst_iou_change"]:10.4f} '
              f'{summary["network_rows_per_sample"]:11.2f} '
              f'{summary["seconds_per_sample"]:9.3f} '
              f'{summary["agreement_mean_iou"]:9.4f} {summary["worst_agreement_iou"]:9.4f} '
              f'{summary["worst_iou_vs_first"]:8.4f}')
        reports.append(
            dict(
                summary,
                precision=precision,
                timesteps=None if timesteps is None else list(timesteps),
                max_change=model.test_cfg.get('max_change'),
                early_stop=model.test_cfg.get('early_stop'),
                num_samples=args.num,
                image_size=list(size),
                seeds=[args.seed_offset, args.seed_offset + args.num - 1],
                mode=args.mode,
                sampling_seed=args.seed,
                coarse_options=coarse_options,
                cfg_options=args.cfg_options,
                config=args.config,
                checkpoint=args.checkpoint,
                samples=[{
                    k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in s.items()
                } for s in result['samples']]))
    if len(reports) > 1:
        print('agreement / worst agr: mean / lowest IoU between the refined masks of each run '
              'and the first run\'s; worst dIoU: the lowest IoU - coarse IoU of a sample; '
              'vs first: the lowest IoU - the first run\'s IoU of a sample')
    report = reports[0] if len(reports) == 1 else dict(runs=reports)
    if args.out:
        write_json_atomic(args.out, report)
        print(f'written to {args.out}')


if __name__ == '__main__':
    sys.exit(main())
