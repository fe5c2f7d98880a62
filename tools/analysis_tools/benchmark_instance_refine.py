"""Instances per second of instance (LR) refinement on the CPU.

Refines ``--num-instances`` synthetic instance masks (ellipses of random size
and position, each at least ``min_area`` pixels) of one random image with the
config's ``InstanceRefiner``: crop, resize, all reverse steps, paste back, in
network batches of ``--batch-size``. The model has random weights (or
``--checkpoint``); the cost does not depend on them. After ``--warmup``
untimed instances, one timed run; prints instances per second.

Examples (the published configuration costs seconds per instance here):
    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_instance_refine.py --tiny \\
        --num-instances 64 --batch-size 32
    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_instance_refine.py \\
        --num-instances 8 --batch-size 8 --bf16
"""
import argparse
import math
import sys
import time
from typing import List, Optional

import numpy as np
import torch

from mmseg_refiner.apis import init_refiner
from mmseg_refiner.utils.checks import check_common_args
from mmseg_refiner.utils.cli import cli_main

DEFAULT_CONFIG = 'configs/segrefiner/segrefiner_unet-128_coco-results-refine.py'
#: The tiny configuration of the unit tests: a 2-level, 16-channel U-Net at 32x32.
TINY_OVERRIDES = {
    'model.denoiser.model_channels': 16,
    'model.denoiser.channel_mult': (1, 2),
    'model.denoiser.num_res_blocks': 1,
    'model.denoiser.attention_strides': (2, ),
    'model.denoiser.num_heads': 2,
    'model.denoiser.norm_groups': 8,
    'model.model_size': 32,
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Time instance refinement on the CPU.')
    parser.add_argument(
        'config',
        nargs='?',
        default=DEFAULT_CONFIG,
        help=f'SegRefiner config (default {DEFAULT_CONFIG})')
    parser.add_argument('--checkpoint', help='weights (default: random)')
    parser.add_argument(
        '--tiny',
        action='store_true',
        help='use the unit tests\' tiny network instead of the config\'s')
    parser.add_argument('--num-instances', type=int, default=8)
    parser.add_argument('--batch-size', type=int, default=8, help='crops per network call')
    parser.add_argument('--image-size', type=int, nargs=2, default=[480, 640], metavar=('H', 'W'))
    parser.add_argument('--bf16', action='store_true', help='bf16 autocast')
    parser.add_argument('--warmup', type=int, default=0, help='untimed instances first')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def synthetic_instances(num: int, height: int, width: int, min_area: int,
                        rng: np.random.Generator) -> torch.Tensor:
    """(num, H, W) bool ellipses of random centre and radii, each >= min_area px."""
    yy, xx = np.mgrid[:height, :width]
    masks = []
    while len(masks) < num:
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry, rx = rng.uniform(15, height / 3), rng.uniform(15, width / 3)
        mask = ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1
        if mask.sum() >= min_area:
            masks.append(mask)
    return torch.from_numpy(np.stack(masks))


def time_refinement(model, image: torch.Tensor, masks: torch.Tensor, bf16: bool,
                    seed: int) -> float:
    """Seconds to refine ``masks`` of ``image``."""
    start = time.perf_counter()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        model.instance_refiner.refine_masks(model, [image], [masks], seeds=[seed])
    return time.perf_counter() - start


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_common_args(args)
    torch.manual_seed(args.seed)
    overrides = dict(TINY_OVERRIDES) if args.tiny else {}
    overrides['model.instance_refiner.batch_size'] = args.batch_size
    model = init_refiner(args.config, args.checkpoint, cfg_options=overrides)
    refiner = model.instance_refiner
    height, width = args.image_size
    rng = np.random.default_rng(args.seed)
    raw = torch.from_numpy(rng.integers(0, 256, (3, height, width), dtype=np.uint8))
    image = model.data_preprocessor(dict(inputs=[raw]), False)['inputs'][0]
    masks = synthetic_instances(args.num_instances + args.warmup, height, width, refiner.min_area,
                                rng)
    if args.warmup:
        time_refinement(model, image, masks[:args.warmup], args.bf16, args.seed)
    seconds = time_refinement(model, image, masks[args.warmup:], args.bf16, args.seed)

    calls = math.ceil(args.num_instances / args.batch_size)
    print(f'{"tiny" if args.tiny else "config"} network, model_size {model.model_size}, '
          f'{model.num_timesteps} steps, batch {args.batch_size}, '
          f'{"bf16 autocast" if args.bf16 else "fp32"}, {torch.get_num_threads()} threads, '
          f'image {height}x{width}')
    print(f'{args.num_instances} instances in {calls} network batches x {model.num_timesteps} '
          f'steps: {seconds:.2f} s = {args.num_instances / seconds:.3f} instances/s '
          f'({seconds / args.num_instances:.3f} s per instance)')


if __name__ == '__main__':
    sys.exit(main())
