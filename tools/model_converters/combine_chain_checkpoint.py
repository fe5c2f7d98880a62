"""Write the one checkpoint of a chain (upstream model + refiner) that mmdet's / mmseg's tools take.

Usage:
    python tools/model_converters/combine_chain_checkpoint.py CHAIN_CONFIG OUT.pth \
        [--cfg-options model.refiner_checkpoint=segrefiner_lr.pth ...]

The chain config's model (``RefinedDetector`` / ``RefinedSegmentor``) is built
and its parts load their ``model.<part>_checkpoint`` settings (paths or URLs;
the authors' published refiner checkpoint is converted on load). ``OUT.pth``
is an MMEngine checkpoint ``{'state_dict', 'meta'}`` with ``detector.*`` (or
``segmentor.*``) and ``refiner.*`` keys, and the upstream checkpoint's class
names as ``meta['dataset_meta']``, for::

    python tools/test.py CHAIN_CONFIG OUT.pth           # this repository
    python mmdet/tools/test.py CHAIN_CONFIG OUT.pth     # mmdet's (mmseg's) own
    init_detector(CHAIN_CONFIG, OUT.pth) / DetInferencer(CHAIN_CONFIG, OUT.pth)
    init_model(CHAIN_CONFIG, OUT.pth) / MMSegInferencer(CHAIN_CONFIG, OUT.pth)

The config's keys and its local checkpoint paths are checked before anything is
built or downloaded.
"""
import argparse
import io
import os.path as osp
import sys
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from typing import List, Optional

from mmseg_refiner.apis.config_keys import validate_config
from mmseg_refiner.cli.args import (CHECKPOINT_FORMATS, add_cfg_options_arg, add_input_arg,
                                    add_output_arg, check_job_paths, parse_checked_args)
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.fileio.outputs import JobPath
from mmseg_refiner.utils.config_file import check_checkpoints, read_config_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Combine the upstream and refiner checkpoints of a chain config into one')
    add_input_arg(parser, 'config', help='chain config (RefinedDetector / RefinedSegmentor)')
    add_output_arg(
        parser, 'out', formats=CHECKPOINT_FORMATS, help='the combined checkpoint to write (.pth)')
    add_cfg_options_arg(
        parser, help='override config settings, e.g. model.refiner_checkpoint=segrefiner_lr.pth')
    return parse_checked_args(parser, argv)


def dataset_meta_of(upstream_meta: dict) -> Optional[dict]:
    """The class names (and palette) an upstream checkpoint's ``meta`` carries, if any."""
    if 'dataset_meta' in upstream_meta:
        return dict(upstream_meta['dataset_meta'])
    if 'CLASSES' in upstream_meta:  # mmdet 2.x / mmseg 0.x model-zoo checkpoints
        meta = {'classes': tuple(upstream_meta['CLASSES'])}
        if 'PALETTE' in upstream_meta:
            meta['palette'] = upstream_meta['PALETTE']
        return meta
    return None


def combine(config: Config) -> dict:
    """The combined checkpoint of ``config``'s chain, as a dict."""
    import mmseg_refiner  # noqa: F401  (registers the wrappers)
    from mmseg_refiner.registry import MODELS
    init_default_scope(config.get('default_scope', 'mmseg_refiner'))
    model = MODELS.build(config.model)
    weights = getattr(model, 'weights', None)
    if weights is None:
        raise ValueError(f'{config.filename}: the model is a {type(model).__name__}, not a chain '
                         '(RefinedDetector / RefinedSegmentor)')
    if weights.checkpoints.get(weights.upstream) is None:
        raise ValueError(f'{config.filename}: model.{weights.upstream}_checkpoint is not set')
    model.load_weights()
    meta = dict(chain=type(model).__name__, checkpoints=dict(weights.checkpoints))
    dataset_meta = dataset_meta_of(weights.upstream_meta)
    if dataset_meta is not None:
        meta['dataset_meta'] = dataset_meta
    return dict(state_dict=model.state_dict(), meta=meta)


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmseg_refiner.fileio import write_bytes_atomic
    config = read_config_file(args.config)
    if args.cfg_options:
        config.merge_from_dict(args.cfg_options)
    validate_config(config, args.cfg_options)
    check_checkpoints(config, args.cfg_options)
    check_job_paths(
        args,
        inputs=[
            JobPath(f'model.{key}', value) for key, value in config.model.items()
            if key.endswith('_checkpoint') and isinstance(value, str)
        ])
    checkpoint = combine(config)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    write_bytes_atomic(osp.abspath(args.out), buffer.getvalue())
    print(f'wrote {args.out}: {len(checkpoint["state_dict"])} tensors of '
          f'{checkpoint["meta"]["chain"]} from {checkpoint["meta"]["checkpoints"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
