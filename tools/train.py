"""Train a SegRefiner model (or any mmseg_refiner config) with the MMEngine Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher pytorch]

Many processes / machines: ``tools/dist_train.sh CONFIG GPUS``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from launch_utils import add_common_args, load_config, setup_cpu_distributed  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmseg_refiner.utils import check_checkpoint_for_model  # noqa: E402
from mmseg_refiner.utils.cli import cli_main  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a refiner')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or with no value from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision (bf16 on CPU, fp16 on GPU)')
    add_common_args(parser)
    return parser.parse_args(argv)


def enable_amp(cfg) -> None:
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        return
    if optim_wrapper != 'OptimWrapper':
        raise ValueError(f'--amp needs an OptimWrapper, the config uses {optim_wrapper}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    import torch
    if not torch.cuda.is_available():
        # fp16 autocast and its loss scaler are CUDA-only; bf16 needs no scaler.
        cfg.optim_wrapper.dtype = 'bfloat16'
    else:
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


@cli_main
def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args)
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    if cfg.get('load_from'):
        check_checkpoint_for_model(runner.model, cfg.load_from)  # the Runner loads non-strictly
    runner.train()


if __name__ == '__main__':
    sys.exit(main())
