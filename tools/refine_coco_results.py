"""Refine the masks of saved COCO-format results with SegRefiner (paper's LR setting).

    python tools/refine_coco_results.py RESULTS_JSON ANN_JSON IMG_DIR \\
        --config CFG --checkpoint CKPT --out OUT_JSON \\
        [--device cpu] [--batch-size 32] [--seed 0] [--overwrite] [--cfg-options k=v ...]

``RESULTS_JSON`` is any model's COCO results file (``image_id``, ``category_id``,
``segmentation``, ``score``, optional ``bbox``); ``ANN_JSON`` the COCO (or LVIS)
annotation file naming its images and categories; ``IMG_DIR`` the image folder.
``CFG`` is a SegRefiner config (e.g.
``configs/segrefiner/segrefiner_unet-128_coco-results-refine.py``, whose
``instance_refiner`` settings apply) and ``CKPT`` its weights. ``OUT_JSON``
receives every input record unchanged but for its ``segmentation``: the
refined mask as a compressed RLE.

Each image is refined with its own generator, seeded from ``--seed`` and the
image id, so a result does not depend on which images ran before it. Finished
images are appended to ``OUT_JSON.progress.jsonl`` (one line per image, flushed
and fsynced): an interrupted run (Ctrl-C, a crash) is resumed by re-running the
same command, which skips them. ``OUT_JSON`` itself is written once, at the end,
through a temporary file and ``os.replace``, so it is never half-written; the
progress file is then removed. The same job through the MMEngine Runner (many
processes, metrics) is ``tools/test.py`` with the config above.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import pycocotools.mask as mask_utils
import torch
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from tqdm import tqdm

from mmseg_refiner.apis import init_refiner
from mmseg_refiner.datasets import CocoResultsRefineDataset
from mmseg_refiner.evaluation.functional import write_json_atomic
from mmseg_refiner.fileio import load_coco_results
from mmseg_refiner.utils.checks import check_common_args, check_output_file
from mmseg_refiner.utils.cli import cli_main

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCoarseInstances'),
    dict(type='PackCoarseInstances'),
]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Refine the masks of a COCO results JSON with SegRefiner (resumable)')
    parser.add_argument('results', help='COCO results JSON to refine')
    parser.add_argument('ann_file', help='COCO/LVIS annotation JSON (image names, categories)')
    parser.add_argument('img_dir', help='folder of the images')
    parser.add_argument('--config', required=True, help='SegRefiner config')
    parser.add_argument('--checkpoint', required=True, help='SegRefiner weights')
    parser.add_argument('--out', required=True, help='refined results JSON to write')
    parser.add_argument('--device', default='cpu', help="e.g. 'cpu' or 'cuda:0'")
    parser.add_argument(
        '--batch-size',
        type=int,
        help="instance crops per network call (default: the config's "
        'instance_refiner.batch_size, 32 in the paper)')
    parser.add_argument('--seed', type=int, default=0, help='sampling seed (default 0)')
    parser.add_argument('--overwrite', action='store_true', help='redo the job even if OUT exists')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs')
    return parser.parse_args(argv)


def file_sha256(path: str) -> str:
    """The SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def image_seed(seed: int, img_id: int) -> int:
    """A well-mixed 64-bit seed for one image from the run's seed and the image id."""
    return int(np.random.SeedSequence([seed, int(img_id)]).generate_state(1, np.uint64)[0])


class ProgressLog:
    """The finished images of a job, one JSON line each, beside the output.

    The first line describes the job; resuming with other inputs is refused.
    Each further line is ``{"image_id", "segmentations": {result index: RLE},
    "refined", "kept"}``. A last line cut short by an interruption is dropped.
    """

    def __init__(self, path: str, job: dict) -> None:
        self.path = path
        self.job = json.loads(json.dumps(job))  # as it reads back (tuples become lists)

    def load(self) -> Dict[int, dict]:
        """``{image_id: entry}`` of the images already done (empty for a new job)."""
        if not osp.exists(self.path):
            self._rewrite([])
            return {}
        with open(self.path) as f:
            lines = [line for line in f.read().split('\n') if line]
        entries, cut_short = [], False
        for number, line in enumerate(lines):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                if number != len(lines) - 1:
                    raise ValueError(f'{self.path}: line {number + 1} is corrupt; delete the '
                                     f'file to start the job again') from None
                cut_short = True
        if not entries or entries[0].get('job') != self.job:
            found = entries[0].get('job') if entries else None
            raise ValueError(f'{self.path} belongs to another job ({found}), not to this one '
                             f'({self.job}); delete it or choose another --out')
        if cut_short:
            self._rewrite(entries[1:])
        return {entry['image_id']: entry for entry in entries[1:]}

    def append(self, entry: dict) -> None:
        """Add one finished image, durably."""
        with open(self.path, 'a') as f:
            f.write(json.dumps(entry) + '\n')
            f.flush()
            os.fsync(f.fileno())

    def _rewrite(self, entries: List[dict]) -> None:
        """Replace the file by the job line and ``entries`` (atomically)."""
        tmp_path = f'{self.path}.tmp'
        with open(tmp_path, 'w') as f:
            for entry in [dict(job=self.job)] + entries:
                f.write(json.dumps(entry) + '\n')
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, self.path)


def encode_masks(masks: torch.Tensor) -> List[dict]:
    """Compressed RLEs (``counts`` as str) of (N, H, W) bool masks."""
    if len(masks) == 0:
        return []
    array = np.asfortranarray(masks.permute(1, 2, 0).cpu().numpy().astype(np.uint8))
    rles = mask_utils.encode(array)
    return [dict(size=rle['size'], counts=rle['counts'].decode()) for rle in rles]


@torch.no_grad()
def refine_image(model, sample: dict, seed: int, device: str) -> dict:
    """Refine one image's detections; the progress entry of the image."""
    data = model.data_preprocessor(pseudo_collate([sample]), False)
    [data_sample] = data['data_samples']
    pred = data_sample.pred_instances
    coarse_areas = pred.masks.flatten(1).sum(1)
    refined_count = int((coarse_areas >= max(model.instance_refiner.min_area, 1)).sum())
    generator = torch.Generator(device=device).manual_seed(image_seed(seed, data_sample.img_id))
    [out] = model.instance_refiner.predict(
        model, data['inputs'], [data_sample], generator=generator)
    indices = out.pred_instances.result_indices.tolist()
    return dict(
        image_id=data_sample.img_id,
        segmentations=dict(zip(map(str, indices), encode_masks(out.pred_instances.masks))),
        refined=refined_count,
        kept=len(indices) - refined_count)


def merge(results: List[dict], done: Dict[int, dict]) -> List[dict]:
    """The input records, in their order, with the refined segmentations."""
    refined = {}
    for entry in done.values():
        refined.update(entry['segmentations'])
    merged = []
    for index, record in enumerate(results):
        record = dict(record)
        record['segmentation'] = refined[str(index)]
        merged.append(record)
    return merged


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_common_args(args)
    check_output_file(args.out, [args.results, args.ann_file])
    results = load_coco_results(args.results)
    progress_path = f'{args.out}.progress.jsonl'
    if osp.exists(args.out) and not osp.exists(progress_path) and not args.overwrite:
        print(f'{args.out} exists: nothing to do (--overwrite redoes the job)')
        return 0
    start = time.time()
    model = init_refiner(
        args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options)
    if not results:
        write_json_atomic(args.out, [], indent=None)
        print(f'{args.results} holds no detections: wrote an empty list to {args.out}')
        return 0
    if args.batch_size is not None:
        model.instance_refiner.batch_size = args.batch_size
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        dataset = CocoResultsRefineDataset(
            results_file=args.results,
            ann_file=args.ann_file,
            data_prefix=dict(img=args.img_dir),
            pipeline=PIPELINE,
            skip_images_without_results=True)

    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    job = dict(
        results=osp.abspath(args.results),
        results_sha256=file_sha256(args.results),  # an edited results file is another job
        ann_file=osp.abspath(args.ann_file),
        img_dir=osp.abspath(args.img_dir),
        config=osp.abspath(args.config),
        checkpoint=osp.abspath(args.checkpoint),
        seed=args.seed,
        cfg_options=args.cfg_options)
    progress = ProgressLog(progress_path, job)
    if args.overwrite and osp.exists(progress_path):
        os.remove(progress_path)
    done = progress.load()
    resumed = len(done)
    todo = [i for i in range(len(dataset)) if dataset.get_data_info(i)['img_id'] not in done]
    bar = tqdm(total=len(dataset), initial=resumed, unit='img', desc='refining')
    try:
        for index in todo:
            entry = refine_image(model, dataset[index], args.seed, args.device)
            progress.append(entry)
            done[entry['image_id']] = entry
            bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        print(f'\ninterrupted: {len(done)} of {len(dataset)} images done, kept in '
              f'{progress_path}; run the same command again to resume')
        return 130
    bar.close()

    write_json_atomic(args.out, merge(results, done), indent=None)
    os.remove(progress_path)
    refined = sum(entry['refined'] for entry in done.values())
    kept = sum(entry['kept'] for entry in done.values())
    print(f'{args.out}: {len(results)} detections on {len(dataset)} images '
          f'({len(dataset) - resumed} refined now, {resumed} resumed); {refined} instances '
          f'refined, {kept} under min_area={model.instance_refiner.min_area} px kept; '
          f'{time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
