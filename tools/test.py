"""Test / evaluate a config with the MMEngine Runner (``Runner.test``), as mmdet's tools/test.py.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULTS.pkl]
                         [--show] [--show-dir DIR] [--wait-time SECONDS]
                         [--cfg-options k=v ...] [--launcher pytorch]

The config decides what is evaluated: refining saved COCO results, BIG / DIS5K,
a folder of coarse masks, or an mmdet / mmseg model chained with the refiner.
``CHECKPOINT`` is loaded into the model (``load_from``): for a refiner config
a SegRefiner checkpoint (the authors' published file is converted on load);
for a chain config the combined checkpoint, or the refiner's (or the upstream
model's) alone, the other part then coming from its ``model.*_checkpoint``
setting. ``none`` (chain configs only) loads nothing beyond those settings; a
refiner config without weights is an error. Relative output paths
of the test config (``test_dataloader.dataset.out_dir``, an evaluator's
``outfile_prefix``) are placed under the work dir. Many processes:
``tools/dist_test.sh``.
"""
import argparse
import os.path as osp
import sys
from mmengine.runner import Runner

from mmseg_refiner.cli import (add_common_args, check_weights_fit, cli_main, load_config,
                               setup_cpu_distributed)
from mmseg_refiner.cli.args import (add_input_arg, add_output_arg, check_job_paths,
                                    parse_checked_args)
from mmseg_refiner.cli.launch import dataset_job_paths
from mmseg_refiner.fileio.outputs import JobPath
from mmseg_refiner.utils.config_file import check_checkpoint_exists, check_checkpoints
from mmseg_refiner.utils.safe_checkpoint import load_weights_strictly, read_weights

#: what ``--out`` may be called
PICKLE_FORMATS = ('.pkl', '.pickle')
#: the visualization hook ``--show`` / ``--show-dir`` switch on when the config has none
DEFAULT_VISUALIZATION_HOOK = dict(type='mmseg_refiner.RefinementVisualizationHook')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a refiner')
    add_input_arg(parser, 'config', help='test config file path')
    add_input_arg(parser, 'checkpoint', help="checkpoint file or URL, or 'none'")
    add_output_arg(
        parser,
        '--out',
        formats=PICKLE_FORMATS,
        help='dump the predictions to this pickle file (.pkl), as mmdet does')
    parser.add_argument('--show', action='store_true', help='show the pictures in a window')
    add_output_arg(
        parser,
        '--show-dir',
        folder=True,
        help='write a picture (image | coarse | refined | ground truth) of every sample to '
        'this folder, relative to <work_dir>/<timestamp>')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds a shown picture stays open')
    add_common_args(parser)
    return parse_checked_args(parser, argv)


def trigger_visualization_hook(cfg, args) -> None:
    """Switch the visualization hook on, as mmdet's tools/test.py does.

    The pictures are this package's (image | coarse | refined | ground truth | changes):
    a config's other visualization hook (mmdet's / mmseg's, inherited by a chain config
    built on their configs) is replaced by ``RefinementVisualizationHook``.
    """
    hooks = cfg.setdefault('default_hooks', {})
    hook = hooks.get('visualization')
    if hook is None or str(hook.get('type', '')).split('.')[-1] != \
            DEFAULT_VISUALIZATION_HOOK['type'].split('.')[-1]:
        hooks['visualization'] = dict(DEFAULT_VISUALIZATION_HOOK)
    hook = hooks['visualization']
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        hook['test_out_dir'] = args.show_dir


def add_dump_metric(cfg, out: str) -> None:
    """Append a metric that pickles the predictions to ``out`` (mmdet's for mmdet models)."""
    dump = dict(
        type='mmdet.DumpDetResults' if cfg.get('default_scope') == 'mmdet' else 'DumpResults',
        out_file_path=out)
    evaluator = cfg.test_evaluator
    cfg.test_evaluator = [*evaluator, dump] if isinstance(evaluator, (list, tuple)) else \
        [evaluator, dump]


def place_outputs_in_work_dir(cfg) -> None:
    """Relative ``out_dir`` of the test dataset and ``outfile_prefix`` of the evaluators
    become paths under ``cfg.work_dir``."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    if isinstance(dataset.get('out_dir'), str) and not osp.isabs(dataset.out_dir):
        dataset.out_dir = osp.join(cfg.work_dir, dataset.out_dir)
    evaluators = cfg.get('test_evaluator', [])
    for evaluator in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
        prefix = evaluator.get('outfile_prefix')
        if isinstance(prefix, str) and not osp.isabs(prefix):
            evaluator['outfile_prefix'] = osp.join(cfg.work_dir, prefix)


def run_test(argv=None) -> dict:
    """Test the config's model; the metrics (``{}`` when nothing was left to refine)."""
    args = parse_args(argv)
    cfg = load_config(args)
    if args.checkpoint.lower() != 'none':
        check_checkpoint_exists(args.checkpoint)
        cfg.load_from = args.checkpoint
    elif cfg.get('load_from') is None and cfg.model.get('refiner_checkpoint') is None and \
            not cfg.model.get('allow_untrained_refiner'):
        raise ValueError(f'{args.config} names no refiner weights: give the checkpoint (a '
                         f'SegRefiner checkpoint; the authors\' published file is accepted as '
                         f'is) instead of none, or for a chain set model.refiner_checkpoint')
    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)
    if args.out is not None:
        add_dump_metric(cfg, args.out)
    place_outputs_in_work_dir(cfg)
    outputs, inputs = dataset_job_paths(cfg)
    show_dir = args.show_dir and osp.join(cfg.work_dir, args.show_dir)  # under <timestamp>/
    check_job_paths(args, [
        *outputs,
        JobPath('--work-dir', cfg.work_dir, folder=True), show_dir
        and JobPath('--show-dir', show_dir, folder=True)
    ], inputs)
    check_checkpoints(cfg, args.cfg_options)
    # The checkpoint file is read (and refused if it is no checkpoint) before the Runner logs
    # its environment; its weights must fit the model exactly once the Runner built it.
    weights = read_weights(cfg.load_from) if cfg.get('load_from') else None
    check_weights_fit(cfg, weights)
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    if weights is not None:  # strict; the Runner loads non-strictly
        load_weights_strictly(getattr(runner.model, 'module', runner.model), weights, cfg.load_from)
    dataset = runner.test_loop.dataloader.dataset
    if len(dataset) == 0 and getattr(dataset, 'skip_done', False):
        runner.logger.info(
            f'nothing left to refine: every sample already has its refined mask in '
            f'{dataset.out_dir} (skip_done). Evaluate that folder with '
            f'tools/analysis_tools/eval_mask_folders.py, or refine again into a new --work-dir.')
        return {}
    return runner.test()


@cli_main
def main(argv=None):
    run_test(argv)


if __name__ == '__main__':
    sys.exit(main())
