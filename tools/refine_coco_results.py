"""Refine the masks of saved COCO-format results with SegRefiner in instance mode.

    python tools/refine_coco_results.py RESULTS_JSON ANN_JSON IMG_DIR \\
        --config CFG --checkpoint CKPT --out OUT_JSON \\
        [--device cuda|cpu] [--precision auto|fp32|bf16|fp16] [--batch-size 32] [--seed 0] \\
        [--detections-per-batch 100] \\
        [--overwrite] [--cfg-options k=v ...]

``RESULTS_JSON`` is any model's COCO results file (``image_id``, ``category_id``,
``segmentation``, ``score``, optional ``bbox``); ``ANN_JSON`` the COCO (or LVIS)
annotation file naming its images and categories; ``IMG_DIR`` the image folder.
``CFG`` is a SegRefiner config (e.g.
``configs/segrefiner/segrefiner_unet-128_coco-results-refine.py``, whose
``instance_refiner`` settings apply) and ``CKPT`` its weights. ``OUT_JSON``
receives every input record unchanged but for its ``segmentation``: the
refined mask as a compressed RLE. Every record is checked before the model is
loaded (``mmseg_refiner/fileio/coco_results.py``: finite scores, integer ids,
4-number boxes, valid RLEs and polygons; the error names the record's index and
field); an empty list gives ``[]``.

The data come from the config's ``test_dataloader`` (its dataset type and
``pipeline``), pointed at the three files above, and each image goes through
the model's ``test_step`` in ``'instance'`` test mode, as with ``tools/test.py``:
instance ``k`` of an image is sampled from a generator seeded from ``--seed``,
the image's file name and ``k``, so both routes give byte-identical masks and
the result depends neither on batch sizes nor on which images ran before.

An image's detections are decoded and refined in batches of at most
``--detections-per-batch`` (the dataset's ``max_instances_per_sample``, 100), so
memory stays bounded whatever their number (measured with
``tools/analysis_tools/benchmark_coco_results_memory.py``), and the progress bar
advances per batch; detection ``k`` of an image is seeded as ``k`` whatever
the batching, so the masks do not depend on it.

Resuming uses the package's one mechanism (``mmseg_refiner/fileio/resume.py``):
``OUT_JSON.progress.jsonl`` records each finished batch under the digest of its
image file and its detections (all their fields, in order), and the job under
digests of the model config, the checkpoint, the seed and the precision. An
interrupted run (Ctrl-C, a crash) is resumed by re-running the same command. An
image whose file or detections changed in the meantime is refined again (and
named), so no detection ever gets the mask of another; another config,
checkpoint, seed or precision is refused (``--overwrite`` starts afresh).
``OUT_JSON`` is written at the end, atomically; the log stays beside it, so a
re-run with unchanged inputs rewrites it without refining anything. The same job
through the MMEngine Runner (many processes, metrics) is ``tools/test.py`` with
the config above.
"""
import argparse
import copy
import json
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from tqdm import tqdm

from mmseg_refiner import fileio
from mmseg_refiner.apis import init_refiner
from mmseg_refiner.fileio.outputs import JobPath
from mmseg_refiner.registry import DATASETS
from mmseg_refiner.utils.checks import check_common_args, check_positive
from mmseg_refiner.utils.cli import INTERRUPTED, cli_main
from mmseg_refiner.utils.cli_args import (add_cfg_options_arg, add_device_precision_args,
                                          add_input_arg, add_output_arg, check_job_paths,
                                          parse_checked_args)
from mmseg_refiner.utils.config_file import read_config_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Refine the masks of a COCO results JSON with SegRefiner (resumable)')
    add_input_arg(parser, 'results', help='COCO results JSON to refine')
    add_input_arg(parser, 'ann_file', help='COCO/LVIS annotation JSON (image names, categories)')
    add_input_arg(parser, 'img_dir', folder=True, help='folder of the images')
    add_input_arg(parser, '--config', required=True, help='SegRefiner config')
    add_input_arg(parser, '--checkpoint', required=True, help='SegRefiner weights')
    add_output_arg(
        parser,
        '--out',
        required=True,
        formats=('.json', ),
        help='refined results JSON to write (and OUT.progress.jsonl beside it)')
    add_device_precision_args(parser)
    parser.add_argument(
        '--batch-size',
        type=int,
        help="instance crops per network call (default: the config's "
        'instance_refiner.batch_size, 32 in the paper)')
    parser.add_argument(
        '--detections-per-batch',
        type=int,
        help="most detections of an image decoded and refined at once, which bounds the "
        "memory (default: the dataset's max_instances_per_sample, 100); the masks do not "
        'depend on it')
    parser.add_argument('--seed', type=int, default=0, help='sampling seed (default 0)')
    parser.add_argument(
        '--overwrite', action='store_true', help='forget the progress log and redo every image')
    add_cfg_options_arg(parser)
    return parse_checked_args(parser, argv)


#: The COCO-results data of a config whose own test data are of another kind.
COCO_RESULTS_DATA = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', '_base_', 'datasets',
    'coco_results_refine.py')


def progress_log_path(out: str) -> str:
    """The progress log of a job writing ``out``."""
    return f'{out}.progress.jsonl'


def build_dataset(cfg, args: argparse.Namespace):
    """The config's test dataset (type and pipeline) when it is a COCO-results dataset, else
    the shipped base's (:data:`COCO_RESULTS_DATA`), pointed at the given files."""
    dataset_cfg = ((cfg.get('test_dataloader') or {}).get('dataset') or {})
    if str(dataset_cfg.get('type', '')).split('.')[-1] != 'CocoResultsRefineDataset':
        print(f'{cfg.filename}: its test_dataloader does not read COCO results; using the '
              f'model of that config with the data pipeline of {COCO_RESULTS_DATA}')
        dataset_cfg = read_config_file(COCO_RESULTS_DATA).test_dataloader.dataset
    dataset_cfg = copy.deepcopy(dataset_cfg)
    dataset_cfg.update(
        results_file=args.results,
        ann_file=args.ann_file,
        data_root='',
        data_prefix=dict(img=args.img_dir),
        skip_images_without_results=True)
    if args.detections_per_batch is not None:
        dataset_cfg['max_instances_per_sample'] = args.detections_per_batch
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        return DATASETS.build(dataset_cfg)


def log_name(info: dict) -> str:
    """How the progress log names a sample: its image id, and the index of its first
    detection when an image's detections come in several batches."""
    offset = info.get('instance_offset', 0)
    return str(info['img_id']) + (f'+{offset}' if offset else '')


def image_key(info: dict, results: List[dict]) -> str:
    """Digest of what an image's refinement depends on: its file and its detections."""
    records = [results[inst['result_index']] for inst in info['coarse_instances']]
    return fileio.digest(
        osp.basename(info['img_path']), fileio.read_bytes(info['img_path'], 'image'),
        json.dumps(records, sort_keys=True))


def refine_image(model, sample: dict) -> List[dict]:
    """The refined masks (RLEs) of one image's detections, in the order of its records."""
    [out] = model.test_step(pseudo_collate([sample]))
    pred = out.pred_instances
    order = sorted(range(len(pred.result_indices)), key=lambda i: int(pred.result_indices[i]))
    return fileio.encode_masks(pred.masks[order]) if order else []


def merge(results: List[dict], dataset, refined: Dict[int, List[dict]]) -> List[dict]:
    """The input records, in their order, with the refined segmentations."""
    by_index = {}
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        indices = sorted(inst['result_index'] for inst in info['coarse_instances'])
        by_index.update(zip(indices, refined[index]))
    return [dict(record, segmentation=by_index[index]) for index, record in enumerate(results)]


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_common_args(args)
    check_positive(args.detections_per_batch, '--detections-per-batch')
    check_job_paths(args, [JobPath('its progress log', progress_log_path(args.out))])
    results = fileio.load_coco_results(args.results)
    start = time.time()
    model = init_refiner(
        args.config,
        args.checkpoint,
        device=args.device,
        cfg_options=args.cfg_options,
        precision=args.precision)
    if not results:
        fileio.write_json_atomic(args.out, [], indent=None)
        print(f'{args.results} holds no detections: wrote an empty list to {args.out}')
        return 0
    job = dict(
        tool='refine_coco_results',
        model=fileio.json_digest(model.cfg.model.to_dict()),
        checkpoint=fileio.file_digest(args.checkpoint),
        seed=args.seed,
        precision=model.test_cfg['precision'])  # a resumed job must not mix precisions
    model.test_cfg.update(mode='instance', seed=args.seed)
    if args.batch_size is not None:
        model.instance_refiner.batch_size = args.batch_size
    dataset = build_dataset(model.cfg, args)

    log = fileio.ResumeLog(
        progress_log_path(args.out), job, restart_hint='re-run with --overwrite')
    resumed = log.open(restart=args.overwrite)
    refined: Dict[int, List[dict]] = {}
    todo = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        key = image_key(info, results)
        masks = log.finished(log_name(info), key)
        if masks is None:
            todo.append((index, key))
        else:
            refined[index] = masks
    if log.changed:
        print(f'{len(log.changed)} images changed (image file or detections) since they were '
              f'refined; refining them again: image ids {", ".join(sorted(log.changed))}')
    bar = tqdm(total=len(dataset), initial=len(dataset) - len(todo), unit='batch',
               desc=f'refining (batches of up to {dataset.max_instances_per_sample} detections)')
    try:
        for index, key in todo:
            refined[index] = refine_image(model, dataset[index])
            log.add(log_name(dataset.get_data_info(index)), key, refined[index])
            bar.update(1)
    except KeyboardInterrupt:
        print(f'\ninterrupted: {len(refined)} of {len(dataset)} batches done, kept in '
              f'{log.path}; run the same command again to resume')
        return INTERRUPTED
    finally:  # an error message then starts a line of its own
        bar.close()

    fileio.write_json_atomic(args.out, merge(results, dataset, refined), indent=None)
    print(f'{args.out}: {len(results)} detections in {len(dataset)} batches '
          f'({len(todo)} refined now, {len(dataset) - len(todo)} from {log.path}, which had '
          f'{resumed}); {time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
