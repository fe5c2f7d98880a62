"""Time and peak memory of the global-local refinement of high-resolution images.

Refines ``--num-images`` square random images, each with a mask (an ellipse
with a hole and a bar touching the border, shifted per image), through
``GlobalLocalRefiner.refine_masks`` with the paper's settings (the masks share
network batches as in a data batch) and prints the wall and CPU time, the
number of local patches and network calls, masks per second, and the peak
resident memory (``ru_maxrss``) before and after the refinement. By default the model is
a tiny ``DenoiseUNet`` with random weights (the published width costs about
0.8-3 s per 256x256 forward on this CPU); ``--config`` benchmarks any
SegRefiner config, ``--max-patches`` refines only the first (highest-scored)
patches to keep such a run short.

With several ``--precision`` or ``--batch-size`` values each combination runs
in its own process (the peak is the process's), one after the other, and the
speed-ups over the first are printed. Examples:
    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_global_local_refine.py --size 4096 \
        --config configs/segrefiner/segrefiner_unet-128_dis5k-hr-refine.py \
        --precision fp32 auto --max-patches 4
    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_global_local_refine.py --size 1024 \
        --num-images 8 --batch-size 1 4 8
"""
import argparse
import json
import numpy as np
import resource
import subprocess
import sys
import time
import torch
from mmengine.registry import DefaultScope
from typing import List, Optional

import mmseg_refiner  # noqa: F401  (registers the modules)
from mmseg_refiner.cli.args import add_input_arg, parse_checked_args
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.models.utils import PRECISIONS
from mmseg_refiner.registry import MODELS
from mmseg_refiner.utils.checks import check_common_args
from mmseg_refiner.utils.config_file import read_config_file
from mmseg_refiner.utils.timing import ForwardTimer

TINY_REFINER = dict(
    type='SegRefiner',
    data_preprocessor=dict(type='RefinerDataPreprocessor'),
    # The published layout (6 levels, attention at strides 16 and 32) at 1/8 of its width.
    denoiser=dict(
        type='DenoiseUNet',
        model_channels=16,
        channel_mult=(1, 1, 2, 2, 4, 4),
        num_res_blocks=2,
        attention_strides=(16, 32),
        num_heads=4,
        norm_groups=8),
    diffusion=dict(type='DiscreteMaskDiffusion'),
    loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True),
    loss_texture=dict(type='TextureLoss', loss_weight=5.0),
    model_size=256,
    global_local_refiner=dict(type='GlobalLocalRefiner'),
    test_cfg=dict(mode='global_local', seed=0))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time and peak memory of global-local refinement of high-resolution images.')
    parser.add_argument('--size', type=int, default=4096, help='side of the square images')
    parser.add_argument('--num-images', type=int, default=1, help='images (one mask each)')
    add_input_arg(parser, '--config', help='SegRefiner config (default: a tiny random model)')
    parser.add_argument(
        '--batch-size',
        type=int,
        nargs='+',
        help='masks per global and patches per local network call; several are run in a '
        'process each and compared (default: the config\'s, 32 in the paper)')
    parser.add_argument('--seed', type=int, default=0, help='seed of image and weights')
    parser.add_argument(
        '--precision',
        nargs='+',
        choices=PRECISIONS,
        help="the network's precision(s) (default: the config's); several are run in a "
        'process each and compared')
    parser.add_argument(
        '--max-patches',
        type=int,
        help='refine only the first N selected local patches of each mask (default: all)')
    parser.add_argument(
        '--weight-std',
        type=float,
        default=0.2,
        help='std of the random weights (0.2 suits the tiny model; about 0.1 keeps the '
        "published network's logits unsaturated, so that c varies and patches are selected)")
    parser.add_argument('--json', action='store_true', help=argparse.SUPPRESS)
    return parse_checked_args(parser, argv)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_mask(size: int, shift: float = 0.0) -> torch.Tensor:
    """An ellipse with a hole and a bar from it to the right border, moved down by ``shift``."""
    yy = np.arange(size, dtype=np.float32)[:, None] / size - shift
    xx = np.arange(size, dtype=np.float32)[None, :] / size
    mask = ((yy - 0.5) / 0.35)**2 + ((xx - 0.45) / 0.3)**2 <= 1
    mask &= (yy - 0.5)**2 + (xx - 0.45)**2 > 0.1**2
    mask |= (np.abs(yy - 0.5) < 0.02) & (xx > 0.6)
    return torch.from_numpy(mask)


def build_refiner(config: Optional[str], seed: int, weight_std: float):
    if config is None:
        cfg = TINY_REFINER
    else:
        cfg = read_config_file(config).model
        cfg.global_local_refiner = cfg.get('global_local_refiner') or dict(
            type='GlobalLocalRefiner')
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, mode='global_local', seed=seed)
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        model = MODELS.build(cfg).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # random weights that give the diffusion something to do
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * weight_std)
    return model


def run_one(args: argparse.Namespace, precision: Optional[str], batch_size: Optional[int]) -> dict:
    """Refine the images once in this process; the figures of the run."""
    model = build_refiner(args.config, args.seed, args.weight_std)
    if precision is not None:
        model.test_cfg['precision'] = precision
    if batch_size is not None:
        model.global_local_refiner.batch_size = batch_size
    hr = model.global_local_refiner
    selected = []
    if args.max_patches is not None:
        select_patches = hr.select_patches

        def first_patches(*select_args):
            boxes = select_patches(*select_args)
            selected.append(len(boxes))
            return boxes[:args.max_patches]

        hr.select_patches = first_patches
    rng = np.random.default_rng(args.seed)
    images, masks = [], []
    for index in range(args.num_images):
        raw = torch.from_numpy(rng.integers(0, 256, (3, args.size, args.size), dtype=np.uint8))
        images.append(model.data_preprocessor.normalize(raw))
        masks.append(make_mask(args.size, shift=0.1 * index / max(args.num_images, 1)))
    del raw
    seeds = [args.seed + index for index in range(args.num_images)]

    calls = []
    refine = model.refine

    def counting_refine(images, *rest, **kwargs):
        calls.append((kwargs.get('cum_fine') is not None, len(images)))
        return refine(images, *rest, **kwargs)

    model.refine = counting_refine
    timer = ForwardTimer(model.denoiser)
    before = peak_rss_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in hr.refine_masks(model, images, masks, seeds):
        pass
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    patches = sum(n for local, n in calls if local)
    return dict(
        precision=model.test_cfg['precision'],
        resolved=model.inference_precision(images[0].device),
        patches=patches,
        selected=sum(selected) if selected else patches,
        global_calls=sum(1 for local, _ in calls if not local),
        local_calls=sum(1 for local, _ in calls if local),
        batch_size=hr.batch_size,
        model_size=model.model_size,
        wall=wall,
        cpu=cpu,
        network=timer.seconds,
        network_calls=timer.calls,
        before=before,
        peak=peak_rss_mib())


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_common_args(args)
    runs = [(precision, batch_size) for precision in args.precision or [None]
            for batch_size in args.batch_size or [None]]
    if len(runs) == 1:
        result = run_one(args, *runs[0])
        if args.json:
            print(json.dumps(result))
            return
        results = [result]
    else:  # one process per run: each peak RSS is its own
        results = []
        for precision, batch_size in runs:
            child = [
                '--size',
                str(args.size), '--num-images',
                str(args.num_images), '--seed',
                str(args.seed), '--weight-std',
                str(args.weight_std), '--json'
            ]
            for flag, value in (('--config', args.config), ('--precision', precision),
                                ('--batch-size', batch_size), ('--max-patches', args.max_patches)):
                if value is not None:
                    child += [flag, str(value)]
            out = subprocess.run([sys.executable, __file__, *child],
                                 capture_output=True,
                                 text=True,
                                 check=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))

    first = results[0]
    print(f'{args.num_images} image(s) {args.size}x{args.size}, model_size '
          f'{first["model_size"]}, '
          f'{"tiny random model" if args.config is None else args.config}, '
          f'{torch.get_num_threads()} threads')
    for result in results:
        print(f'precision {result["precision"]} ({result["resolved"]}), batch size '
              f'{result["batch_size"]}: local patches {result["patches"]} of '
              f'{result["selected"]} selected; network calls {result["global_calls"]} global + '
              f'{result["local_calls"]} local; time {result["wall"]:.2f} s wall, '
              f'{args.num_images / result["wall"]:.3f} masks/s (network '
              f'{result["network"]:.2f} s in {result["network_calls"]} forward calls, '
              f'{result["network"] / max(result["network_calls"], 1):.2f} s each; the rest '
              f'{result["wall"] - result["network"]:.2f} s), {result["cpu"]:.2f} s CPU; '
              f'peak RSS {result["peak"]:.0f} MiB (before '
              f'refining {result["before"]:.0f} MiB, refinement added '
              f'{result["peak"] - result["before"]:.0f} MiB)')
    if len(results) > 1:
        print(f'speed-up over precision {first["precision"]}, batch size {first["batch_size"]} '
              f'(end to end / network / the rest): ' + ', '.join(
                  f'{r["precision"]} batch {r["batch_size"]} {first["wall"] / r["wall"]:.2f}x / '
                  f'{first["network"] / r["network"]:.2f}x / '
                  f'{(first["wall"] - first["network"]) / (r["wall"] - r["network"]):.2f}x'
                  for r in results[1:]))


if __name__ == '__main__':
    sys.exit(main())
