"""FLOPs and parameters of a config's refiner, as mmdet's / mmseg's get_flops.py report them.

    python tools/analysis_tools/get_flops.py CONFIG [--size 256] [--steps 6]
                                             [--cfg-options k=v ...]

CONFIG is a refiner config (configs/segrefiner/) or a chain config (configs/chains/, or
your own): for a chain, its ``model.refiner``. Printed: the parameters and the FLOPs of one
network call at the input side (``--size``, default the model's), of one instance in instance
mode (``--steps`` calls, default all the schedule's steps), and of one mask in global-local
mode (its global steps, plus one call per local patch). FLOPs count a multiply-add as one
(mmengine.analysis, as OpenMMLab's tools). A chain's upstream model is measured by mmdet's /
mmseg's own tools/analysis_tools/get_flops.py on the upstream config.
"""
import argparse
import sys
from mmengine.registry import init_default_scope
from typing import List, Optional

from mmseg_refiner.apis.complexity import refiner_complexity
from mmseg_refiner.cli import add_cfg_options_arg, cli_main
from mmseg_refiner.cli.args import add_input_arg, parse_checked_args
from mmseg_refiner.utils.config_file import read_config_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='FLOPs and parameters of a refiner')
    add_input_arg(parser, 'config', help='refiner or chain config file')
    parser.add_argument('--size', type=int, help="input side (default: the model's model_size)")
    parser.add_argument(
        '--steps', type=int, help='reverse steps per instance (default: all of the schedule)')
    add_cfg_options_arg(parser, help='override config settings, e.g. model.model_size=128')
    return parse_checked_args(parser, argv)


def _giga(flops: int) -> str:
    return f'{flops / 1e9:.3f} GFLOPs'


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    for name in ('size', 'steps'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f'--{name} must be at least 1, got {getattr(args, name)}')
    cfg = read_config_file(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model_cfg = cfg.model.get('refiner', cfg.model)
    if model_cfg.get('type', '').split('.')[-1] != 'SegRefiner':
        raise ValueError(f'{args.config}: the model ({model_cfg.get("type")}) is neither a '
                         f'SegRefiner nor a chain with a SegRefiner as model.refiner')
    import mmseg_refiner  # noqa: F401  (registers the models)
    from mmseg_refiner.registry import MODELS
    init_default_scope('mmseg_refiner')
    refiner = MODELS.build(dict(model_cfg, _scope_='mmseg_refiner'))
    cost = refiner_complexity(refiner, args.size, args.steps)
    size = f'{cost["size"]}x{cost["size"]}'
    lines = [
        f'config: {args.config}' + (' (model.refiner)' if 'refiner' in cfg.model else ''),
        f'params: {cost["params"] / 1e6:.3f} M',
        f'one network call ({size}): {_giga(cost["flops"])}',
        f'one instance, instance mode ({cost["steps"]} steps at {size}): '
        f'{_giga(cost["instance_flops"])}',
    ]
    if cost['global_steps']:
        lines.append(f'one mask, global-local mode: global {cost["global_steps"]} steps '
                     f'{_giga(cost["global_flops"])} + {_giga(cost["local_flops"])} per local '
                     f'patch')
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
