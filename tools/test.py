"""Test / evaluate a config with the MMEngine Runner (``Runner.test``).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
                         [--launcher pytorch]

The config decides what is evaluated: refining saved COCO results, BIG / DIS5K,
a folder of coarse masks, or an mmdet / mmseg model chained with the refiner.
``CHECKPOINT`` may be ``none`` for a config whose weights come from its own
``init_cfg`` / ``load_from``. Many processes: ``tools/dist_test.sh``.
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
    parser = argparse.ArgumentParser(description='Test (and evaluate) a refiner')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none'")
    add_common_args(parser)
    return parser.parse_args(argv)


@cli_main
def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args)
    if args.checkpoint.lower() != 'none':
        cfg.load_from = args.checkpoint
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    if cfg.get('load_from'):
        check_checkpoint_for_model(runner.model, cfg.load_from)  # the Runner loads non-strictly
    runner.test()


if __name__ == '__main__':
    sys.exit(main())
