"""Seconds per instance of instance-mode refinement, precisions and batch sizes side by side.

Builds the config's model once per ``--precision`` through the public API
(``init_refiner(config, checkpoint, precision=...)``), all with the same weights
(``--checkpoint``, or the config's random initialization), and refines the same
``--num-instances`` synthetic instance masks (ellipses of random size and
position, each at least ``min_area`` pixels) of one random image with
``refine(model, image, masks, mode='instance')``: crop, resize, all reverse
steps, paste back, in network batches of each ``--batch-size``. After
``--warmup`` untimed calls per precision and batch size, the precisions take
turns for ``--repeats`` rounds (so a busy machine slows them alike). Prints per
precision and batch size: seconds per instance, split into the network (its
forward calls, timed by hooks) and the rest (cropping, resizing, the diffusion's
steps, pasting), the seconds of one network call (one step of a batch),
instances per second, the speed-up over the first precision at the same batch
size (of wall time, and of the process's CPU time, steadier on a shared machine), and the
mean IoU of its refined masks with the first precision's.

Examples (the published network costs about 0.5-3 s per 256x256 forward here):
    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_instance_refine.py \\
        --num-instances 4 --batch-size 4
    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_instance_refine.py --tiny \\
        --num-instances 64 --batch-size 1 8 32
"""
import argparse
import numpy as np
import sys
import time
import torch
from typing import List, Optional

from mmseg_refiner.apis import init_refiner, refine
from mmseg_refiner.cli.args import add_input_arg, parse_checked_args
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.models.utils import PRECISIONS
from mmseg_refiner.utils.checks import check_common_args
from mmseg_refiner.utils.timing import ForwardTimer

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
    parser = argparse.ArgumentParser(description='Time instance refinement per precision.')
    add_input_arg(
        parser,
        'config',
        nargs='?',
        default=DEFAULT_CONFIG,
        help=f'SegRefiner config (default {DEFAULT_CONFIG})')
    add_input_arg(parser, '--checkpoint', help='weights (default: random)')
    parser.add_argument(
        '--tiny',
        action='store_true',
        help='use the unit tests\' tiny network instead of the config\'s')
    parser.add_argument(
        '--precision',
        nargs='+',
        default=['fp32', 'auto'],
        choices=PRECISIONS,
        help='precisions to compare; the first is the reference (default: fp32 auto)')
    parser.add_argument('--num-instances', type=int, default=4)
    parser.add_argument(
        '--batch-size',
        type=int,
        nargs='+',
        default=[4],
        help='crops per network call (several: '
        'a row each)')
    parser.add_argument('--repeats', type=int, default=1, help='timed rounds per precision')
    parser.add_argument(
        '--warmup', type=int, default=1, help='untimed calls of one instance per precision first')
    parser.add_argument('--image-size', type=int, nargs=2, default=[480, 640], metavar=('H', 'W'))
    parser.add_argument('--device', help='default: CUDA when available, else the CPU')
    parser.add_argument('--seed', type=int, default=0)
    return parse_checked_args(parser, argv)


def synthetic_instances(num: int, height: int, width: int, min_area: int,
                        rng: np.random.Generator) -> np.ndarray:
    """(num, H, W) bool ellipses of random centre and radii, each >= min_area px."""
    yy, xx = np.mgrid[:height, :width]
    masks = []
    while len(masks) < num:
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry, rx = rng.uniform(15, height / 3), rng.uniform(15, width / 3)
        mask = ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1
        if mask.sum() >= min_area:
            masks.append(mask)
    return np.stack(masks)


def mean_iou(masks: np.ndarray, reference: np.ndarray) -> float:
    """Mean IoU of (N, H, W) bool masks with the reference's (1 where both are empty)."""
    inter = (masks & reference).reshape(len(masks), -1).sum(1)
    union = (masks | reference).reshape(len(masks), -1).sum(1)
    return float(np.where(union > 0, inter / np.maximum(union, 1), 1.0).mean())


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_common_args(args)
    overrides = dict(TINY_OVERRIDES) if args.tiny else {}
    models = []
    for precision in args.precision:
        torch.manual_seed(args.seed)  # the same random initialization for every precision
        models.append(
            init_refiner(
                args.config,
                args.checkpoint,
                device=args.device,
                cfg_options=overrides,
                precision=precision))
    timers = [ForwardTimer(model.denoiser) for model in models]
    height, width = args.image_size
    rng = np.random.default_rng(args.seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    masks = synthetic_instances(args.num_instances, height, width,
                                models[0].instance_refiner.min_area, rng)

    resolved = [model.inference_precision(next(model.parameters()).device) for model in models]
    rows = []
    for batch_size in args.batch_size:
        for model in models:
            model.instance_refiner.batch_size = batch_size
        for _ in range(args.warmup):  # oneDNN creates its kernels on the first calls
            for model in models:
                refine(model, image, masks[:batch_size], mode='instance', seed=args.seed)
        seconds = [0.0] * len(models)
        cpu_seconds = [0.0] * len(models)
        refined = [None] * len(models)
        for timer in timers:
            timer.reset()
        for _ in range(args.repeats):
            for index, model in enumerate(models):
                start, cpu_start = time.perf_counter(), time.process_time()
                refined[index] = refine(model, image, masks, mode='instance', seed=args.seed)
                seconds[index] += time.perf_counter() - start
                cpu_seconds[index] += time.process_time() - cpu_start
        instances = args.num_instances * args.repeats
        for index, precision in enumerate(args.precision):
            rows.append(
                dict(
                    batch_size=batch_size,
                    precision=f'{precision} ({resolved[index]})',
                    total=seconds[index] / instances,
                    network=timers[index].seconds / instances,
                    call=timers[index].seconds / max(timers[index].calls, 1),
                    speed_up=seconds[0] / seconds[index],
                    cpu=cpu_seconds[index] / instances,
                    cpu_speed_up=cpu_seconds[0] / cpu_seconds[index],
                    iou=mean_iou(refined[index], refined[0])))

    model = models[0]
    print(f'{args.config}{" (tiny network)" if args.tiny else ""}, '
          f'{"checkpoint " + args.checkpoint if args.checkpoint else "random weights"}, '
          f'model_size {model.model_size}, {model.num_timesteps} steps, '
          f'{torch.get_num_threads()} threads, image {height}x{width}, '
          f'{args.num_instances} instances x {args.repeats} rounds')
    print(f'{"batch":>5s} {"precision":>16s} {"s/instance":>11s} {"network":>8s} {"rest":>7s} '
          f'{"s/call":>7s} {"inst/s":>7s} {"speed-up":>9s} {"CPU s/inst":>11s} '
          f'{"CPU speed-up":>13s} {"IoU vs first":>13s}')
    for row in rows:
        print(f'{row["batch_size"]:5d} {row["precision"]:>16s} {row["total"]:11.3f} '
              f'{row["network"]:8.3f} {row["total"] - row["network"]:7.3f} {row["call"]:7.3f} '
              f'{1 / row["total"]:7.2f} {row["speed_up"]:8.2f}x {row["cpu"]:11.3f} '
              f'{row["cpu_speed_up"]:12.2f}x {row["iou"]:13.4f}')


if __name__ == '__main__':
    sys.exit(main())
