"""Train a SegRefiner model (or any mmseg_refiner config) with the MMEngine Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher pytorch]

Many processes / machines: ``tools/dist_train.sh CONFIG GPUS``.
"""
import argparse
import sys
from mmengine.runner import Runner

from mmseg_refiner.cli import add_common_args, cli_main, load_config, setup_cpu_distributed
from mmseg_refiner.cli.args import add_input_arg, check_job_paths, parse_checked_args
from mmseg_refiner.cli.launch import dataset_job_paths
from mmseg_refiner.fileio.outputs import JobPath
from mmseg_refiner.utils import load_weights
from mmseg_refiner.utils.config_file import check_checkpoint_exists, check_checkpoints

#: ``--amp`` without CUDA: bf16 autocast, no loss scaler.
CPU_AMP_OPTIM_WRAPPER = 'mmseg_refiner.BF16AmpOptimWrapper'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a refiner')
    add_input_arg(parser, 'config', help='train config file path')
    add_input_arg(
        parser,
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or with no value from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision: fp16 with a dynamic loss scale on a GPU, bf16 '
        '(no loss scaler) on a CPU')
    add_common_args(parser)
    return parse_checked_args(parser, argv)


def enable_amp(cfg) -> None:
    """Switch the config's ``OptimWrapper`` to mixed precision (``--amp``).

    With CUDA: MMEngine's ``AmpOptimWrapper`` (fp16 autocast, dynamic loss
    scale), as mmdet's ``--amp``. Without: ``BF16AmpOptimWrapper`` (bf16
    autocast on the CPU, no loss scaler), since ``AmpOptimWrapper`` asserts a
    GPU.
    """
    import torch
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper in ('AmpOptimWrapper', CPU_AMP_OPTIM_WRAPPER):
        return
    if optim_wrapper != 'OptimWrapper':
        raise ValueError(f'--amp needs an OptimWrapper, the config uses {optim_wrapper}')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        cfg.optim_wrapper.type = CPU_AMP_OPTIM_WRAPPER


@cli_main
def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args)
    check_job_paths(args, [JobPath('--work-dir', cfg.work_dir, folder=True)],
                    dataset_job_paths(cfg, 'train_dataloader')[1])
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        check_checkpoint_exists(args.resume, '--resume checkpoint')
        cfg.resume = True
        cfg.load_from = args.resume
    check_checkpoints(cfg, args.cfg_options)
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    if cfg.get('load_from'):
        load_weights(runner.model, cfg.load_from)  # strict; the Runner loads non-strictly
    runner.train()


if __name__ == '__main__':
    sys.exit(main())
