"""FLOPs and parameters of a refiner or of a whole chain, as mmdet's / mmseg's get_flops.py count.

    python tools/analysis_tools/get_flops.py CONFIG [--size 256] [--steps 6]
                                             [--shape H [W]] [--cfg-options k=v ...]

CONFIG is a refiner config (configs/segrefiner/) or a chain config (configs/chains/, or your
own). For the refiner: its parameters and the FLOPs of one network call at the input side
(``--size``, default the model's), of one instance in instance mode (``--steps`` calls, default
all the schedule's steps) and of one mask in global-local mode (its global steps, plus one call
per local patch). For a chain, also its upstream model on one ``--shape`` image (the network
input as the test pipeline resized it; default 800x1333 for a detector, 1024x2048 for a
segmentor): ``forward(mode='tensor')``, as mmdet's / mmseg's own get_flops.py count a plain
model (they cannot run on a chain: mmseg's reads ``model.decode_head`` from the config, and a
chain's ``mode='tensor'`` refuses, naming this tool). FLOPs count a multiply-add as one
(mmengine.analysis, as OpenMMLab's tools).
"""
import argparse
import sys
from mmengine.registry import init_default_scope
from typing import List, Optional, Tuple

from mmseg_refiner.apis.complexity import refiner_complexity, upstream_complexity
from mmseg_refiner.cli import add_cfg_options_arg, cli_main
from mmseg_refiner.cli.args import add_input_arg, parse_checked_args
from mmseg_refiner.utils.config_file import read_config_file

#: (h, w) of the upstream's input when ``--shape`` is not given: mmdet's 1333x800 test scale,
#: a Cityscapes image for mmseg.
DEFAULT_SHAPES = dict(mmdet=(800, 1333), mmseg=(1024, 2048))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='FLOPs and parameters of a refiner or chain')
    add_input_arg(parser, 'config', help='refiner or chain config file')
    parser.add_argument('--size', type=int, help="refiner input side (default: model_size)")
    parser.add_argument(
        '--steps', type=int, help='reverse steps per instance (default: all of the schedule)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help="a chain's upstream input, H [W] (default: 800 1333 for a detector, 1024 2048 for "
        'a segmentor)')
    add_cfg_options_arg(parser, help='override config settings, e.g. model.model_size=128')
    return parse_checked_args(parser, argv)


def _giga(flops: int) -> str:
    return f'{flops / 1e9:.3f} GFLOPs'


def _check_args(args: argparse.Namespace) -> None:
    for name in ('size', 'steps'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f'--{name} must be at least 1, got {getattr(args, name)}')
    if args.shape is not None and (len(args.shape) > 2 or min(args.shape) < 1):
        raise ValueError(f'--shape takes H or H W, each at least 1, got {args.shape}')


def _build(model_cfg: dict):
    """The config's model: a ``SegRefiner`` or a chain (weights are not read)."""
    import mmseg_refiner  # noqa: F401  (registers the models)
    from mmseg_refiner.registry import MODELS
    init_default_scope('mmseg_refiner')
    return MODELS.build(dict(model_cfg, _scope_='mmseg_refiner'))


def _chain_lines(chain, shape) -> Tuple[List[str], int]:
    """The upstream model's lines, and its FLOPs per image."""
    cost = upstream_complexity(chain, shape)
    name = chain.upstream_name
    return [
        f'{name} ({chain.upstream_scope} {type(chain.upstream).__name__}): params '
        f'{cost["params"] / 1e6:.3f} M',
        f'{name}, one {shape[0]}x{shape[1]} image (forward(mode=\'tensor\')): '
        f'{_giga(cost["flops"])}',
    ], cost['flops']


def _per_image_line(chain, upstream_flops: int, cost: dict) -> str:
    """What one image costs the chain: the upstream model, then each refined mask."""
    if chain.refiner_mode == 'instance':
        per_mask = f'{_giga(cost["instance_flops"])} per instance'
    else:
        per_mask = (f'per class present {_giga(cost["global_flops"])} + '
                    f'{_giga(cost["local_flops"])} per local patch')
    return f'chain, one image: {chain.upstream_name} {_giga(upstream_flops)} + {per_mask}'


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    _check_args(args)
    cfg = read_config_file(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    is_chain = 'refiner' in cfg.model
    refiner_cfg = cfg.model.refiner if is_chain else cfg.model
    if not isinstance(refiner_cfg,
                      dict) or refiner_cfg.get('type', '').split('.')[-1] != 'SegRefiner':
        raise ValueError(f'{args.config}: the model ({cfg.model.get("type")}) is neither a '
                         f'SegRefiner nor a chain with a SegRefiner as model.refiner')
    model = _build(cfg.model)
    refiner = model.refiner if is_chain else model
    cost = refiner_complexity(refiner, args.size, args.steps)
    size = f'{cost["size"]}x{cost["size"]}'
    lines = [f'config: {args.config}' + (f' (a chain: {type(model).__name__})' if is_chain else '')]
    if is_chain:
        shape = args.shape or DEFAULT_SHAPES[model.upstream_scope]
        upstream_lines, upstream_flops = _chain_lines(model, (shape[0], shape[-1]))
        lines += upstream_lines
    prefix = 'refiner ' if is_chain else ''
    lines += [
        f'{prefix}params: {cost["params"] / 1e6:.3f} M',
        f'{prefix}one network call ({size}): {_giga(cost["flops"])}',
        f'{prefix}one instance, instance mode ({cost["steps"]} steps at {size}): '
        f'{_giga(cost["instance_flops"])}',
    ]
    if cost['global_steps']:
        lines.append(f'{prefix}one mask, global-local mode: global {cost["global_steps"]} steps '
                     f'{_giga(cost["global_flops"])} + {_giga(cost["local_flops"])} per local '
                     f'patch')
    if is_chain:
        lines.append(_per_image_line(model, upstream_flops, cost))
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
