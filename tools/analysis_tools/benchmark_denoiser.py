"""Time one forward of the denoising U-Net on the CPU.

Runs the network (random weights, eval mode, no autograd) on a random batch in
two modes: fp32 eager (contiguous tensors) and bf16 autocast with
channels_last tensors. After ``--warmup`` untimed runs it times ``--repeats``
forwards per mode and prints the median seconds per batch and per image.

The defaults are the published configuration (118.6 M parameters) at 256x256,
batch 4. Example:
    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_denoiser.py
    python tools/analysis_tools/benchmark_denoiser.py --model-channels 32 --size 64
"""
import argparse
import statistics
import sys
import time
from typing import Callable, List, Optional

import torch

from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.models.denoisers import DenoiseUNet
from mmseg_refiner.utils.checks import check_common_args

MODES = ('fp32', 'bf16-channels-last')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Time one forward of DenoiseUNet on the CPU.')
    parser.add_argument('--model-channels', type=int, default=128)
    parser.add_argument('--channel-mult', type=int, nargs='+', default=[1, 1, 2, 2, 4, 4])
    parser.add_argument('--num-res-blocks', type=int, default=2)
    parser.add_argument('--num-heads', type=int, default=4)
    parser.add_argument('--attention-strides', type=int, nargs='*', default=[16, 32])
    parser.add_argument('--norm-groups', type=int, default=32)
    parser.add_argument('--size', type=int, default=256, help='input height and width')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--warmup', type=int, default=1, help='untimed runs per mode')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs per mode')
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def median_seconds(fn: Callable[[], torch.Tensor], warmup: int, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_common_args(args)
    torch.manual_seed(args.seed)
    model = DenoiseUNet(
        model_channels=args.model_channels,
        channel_mult=tuple(args.channel_mult),
        num_res_blocks=args.num_res_blocks,
        num_heads=args.num_heads,
        attention_strides=tuple(args.attention_strides),
        norm_groups=args.norm_groups).eval()
    x = torch.randn(args.batch_size, 4, args.size, args.size)
    x[:, 3] = (x[:, 3] > 0).float()
    t = torch.randint(0, model.num_timesteps, (args.batch_size, ))
    num_params = sum(p.numel() for p in model.parameters())
    print(f'DenoiseUNet: {num_params:,} parameters; input {tuple(x.shape)}; '
          f'{torch.get_num_threads()} threads; warm-up {args.warmup}, median of {args.repeats}')

    for mode in args.modes:
        if mode == 'fp32':
            model = model.to(memory_format=torch.contiguous_format)
            inputs = x.contiguous()

            def forward() -> torch.Tensor:
                with torch.inference_mode():
                    return model(inputs, t)
        else:
            model = model.to(memory_format=torch.channels_last)
            inputs = x.to(memory_format=torch.channels_last)

            def forward() -> torch.Tensor:
                with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16):
                    return model(inputs, t)

        seconds = median_seconds(forward, args.warmup, args.repeats)
        print(f'{mode:>20}: {seconds:7.3f} s per batch, '
              f'{seconds / args.batch_size:7.3f} s per image')


if __name__ == '__main__':
    sys.exit(main())
