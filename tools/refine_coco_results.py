"""Refine the masks of saved COCO-format results with SegRefiner in instance mode.

    python tools/refine_coco_results.py RESULTS_JSON ANN_JSON IMG_DIR \\
        --config CFG --checkpoint CKPT --out OUT_JSON \\
        [--device cuda|cpu] [--precision auto|fp32|bf16|fp16] [--batch-size 32] [--seed 0] \\
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

Resuming uses the package's one mechanism (``mmseg_refiner/fileio/resume.py``):
``OUT_JSON.progress.jsonl`` records each finished image under the digest of its
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
from mmseg_refiner.cli.args import add_cfg_options_arg, add_device_precision_args
from mmseg_refiner.cli.errors import INTERRUPTED, cli_main
from mmseg_refiner.registry import DATASETS
from mmseg_refiner.utils.checks import check_common_args, check_output_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Refine the masks of a COCO results JSON with SegRefiner (resumable)')
    parser.add_argument('results', help='COCO results JSON to refine')
    parser.add_argument('ann_file', help='COCO/LVIS annotation JSON (image names, categories)')
    parser.add_argument('img_dir', help='folder of the images')
    parser.add_argument('--config', required=True, help='SegRefiner config')
    parser.add_argument('--checkpoint', required=True, help='SegRefiner weights')
    parser.add_argument('--out', required=True, help='refined results JSON to write')
    add_device_precision_args(parser)
    parser.add_argument(
        '--batch-size',
        type=int,
        help="instance crops per network call (default: the config's "
        'instance_refiner.batch_size, 32 in the paper)')
    parser.add_argument('--seed', type=int, default=0, help='sampling seed (default 0)')
    parser.add_argument(
        '--overwrite', action='store_true', help='forget the progress log and redo every image')
    add_cfg_options_arg(parser)
    return parser.parse_args(argv)


def build_dataset(cfg, args: argparse.Namespace):
    """The config's test dataset (type and pipeline), pointed at the given files."""
    loader = cfg.get('test_dataloader')
    if not loader or 'dataset' not in loader:
        raise ValueError(f'the config {cfg.filename} has no test_dataloader.dataset to build '
                         f'the data from (e.g. configs/segrefiner/'
                         f'segrefiner_unet-128_coco-results-refine.py)')
    dataset_cfg = copy.deepcopy(loader['dataset'])
    dataset_cfg.update(
        results_file=args.results,
        ann_file=args.ann_file,
        data_root='',
        data_prefix=dict(img=args.img_dir),
        skip_images_without_results=True)
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        return DATASETS.build(dataset_cfg)


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
    check_output_file(args.out, [args.results, args.ann_file])
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
        f'{args.out}.progress.jsonl', job, restart_hint='re-run with --overwrite')
    resumed = log.open(restart=args.overwrite)
    refined: Dict[int, List[dict]] = {}
    todo = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        key = image_key(info, results)
        masks = log.finished(str(info['img_id']), key)
        if masks is None:
            todo.append((index, key))
        else:
            refined[index] = masks
    if log.changed:
        print(f'{len(log.changed)} images changed (image file or detections) since they were '
              f'refined; refining them again: image ids {", ".join(sorted(log.changed))}')
    bar = tqdm(total=len(dataset), initial=len(dataset) - len(todo), unit='img', desc='refining')
    try:
        for index, key in todo:
            refined[index] = refine_image(model, dataset[index])
            log.add(str(dataset.get_data_info(index)['img_id']), key, refined[index])
            bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        print(f'\ninterrupted: {len(refined)} of {len(dataset)} images done, kept in '
              f'{log.path}; run the same command again to resume')
        return INTERRUPTED
    bar.close()

    fileio.write_json_atomic(args.out, merge(results, dataset, refined), indent=None)
    print(f'{args.out}: {len(results)} detections on {len(dataset)} images '
          f'({len(todo)} refined now, {len(dataset) - len(todo)} from {log.path}, which had '
          f'{resumed}); {time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
