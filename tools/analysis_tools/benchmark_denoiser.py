"""Time one forward of the denoising U-Net on the CPU, per precision, side by side.

Runs the network (random weights, eval mode, no autograd) on a random batch as
the package runs it (:func:`mmseg_refiner.models.utils.network_in_precision`,
with the CPU memory policy of ``SegRefiner.refine``): ``fp32``, ``bf16`` (the
network on cached bf16 weights), and for comparison ``bf16-autocast`` (the
float32 network under bf16 autocast, channels_last: the earlier policy). After
``--warmup`` untimed runs per mode the modes take turns for ``--repeats``
rounds; prints the median seconds per batch and per image and the speed-up over
the first mode.

The defaults are the published configuration (118.6 M parameters) at 256x256,
batch 4. Example:
    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_denoiser.py
    python tools/analysis_tools/benchmark_denoiser.py --model-channels 32 --size 64
"""
import argparse
import copy
import functools
import statistics
import sys
import time
import torch
from typing import List, Optional

from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.models.denoisers import DenoiseUNet
from mmseg_refiner.models.utils import network_in_precision
from mmseg_refiner.models.utils.cpu_memory import keep_freed_cpu_memory
from mmseg_refiner.utils.checks import check_common_args

MODES = ('fp32', 'bf16', 'bf16-autocast')


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

    keep_freed_cpu_memory()  # as SegRefiner.refine does on the CPU
    forwards = {}
    for mode in args.modes:
        if mode == 'bf16-autocast':
            channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)

            def forward(net=channels_last) -> torch.Tensor:
                with torch.autocast('cpu', dtype=torch.bfloat16):
                    return net(x.contiguous(memory_format=torch.channels_last), t).float()
        else:
            forward = functools.partial(network_in_precision(model, mode, 'cpu'), x, t)
        forwards[mode] = forward
    times = {mode: [] for mode in args.modes}
    with torch.inference_mode():
        for _ in range(args.warmup):
            for forward in forwards.values():
                forward()
        for _ in range(args.repeats):  # interleaved: a busy machine slows the modes alike
            for mode, forward in forwards.items():
                start = time.perf_counter()
                forward()
                times[mode].append(time.perf_counter() - start)
    first = statistics.median(times[args.modes[0]])
    for mode in args.modes:
        seconds = statistics.median(times[mode])
        print(f'{mode:>14}: {seconds:7.3f} s per batch, {seconds / args.batch_size:7.3f} s per '
              f'image, {first / seconds:5.2f}x {args.modes[0]}')


if __name__ == '__main__':
    sys.exit(main())
