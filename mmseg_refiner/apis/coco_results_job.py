"""Refining the masks of a saved COCO results file in instance mode, resumable.

The job behind ``tools/refine_coco_results.py``. The data come from the config's
``test_dataloader`` (its dataset type and ``pipeline``), pointed at the given
files, and the dataset's samples go through the model's ``test_step`` in
``'instance'`` test mode, as many at a time as the ``test_dataloader``'s
``batch_size`` (their crops share network batches), as with ``tools/test.py``:
instance ``k`` of an image is sampled from a generator seeded from the seed, the
image's file name and ``k``, so both routes, and any number of samples per step,
give byte-identical masks. A config whose test data are not COCO results (the
demo model's, say) lends its model to the shipped COCO-results data
(:data:`COCO_RESULTS_DATA`). An image's detections are decoded and refined in
batches of at most ``detections_per_batch`` (the dataset's
``max_instances_per_sample``), one sample each, so memory stays bounded however
many there are; the masks do not depend on the batching.

Resuming uses the package's one mechanism (:mod:`mmseg_refiner.fileio.resume`):
``<out_file>.progress.jsonl`` records each finished batch under the digest of
its image file and its detections (all their fields, in order), and the job
under digests of the model config, the checkpoint, the seed and the precision.
An image whose file or detections changed is refined again, so no detection
ever gets the mask of another; another config, checkpoint, seed or precision is
refused (``overwrite=True`` starts afresh). ``out_file`` is written at the end,
atomically.

Every refined record gets ``"refine_score"``: the refinement confidence of its
mask (:mod:`mmseg_refiner.models.refiners.confidence`, the mean ``|2p - 1|``
over the refined mask's boundary band, in [0, 1]; 1 for a detection too small
to refine). ``score`` stays the detector's unless ``rescore=True``, which
writes ``score * refine_score``.
"""
import copy
import json
import os.path as osp
from dataclasses import dataclass
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from tqdm import tqdm
from typing import Dict, List, Optional

from mmseg_refiner import fileio
from mmseg_refiner.registry import DATASETS
from mmseg_refiner.utils.config_file import read_config_file
from .inference import REPO_ROOT


class JobInterrupted(KeyboardInterrupt):
    """Ctrl-C during a resumable job; the message says what was kept and how to resume."""


@dataclass
class CocoResultsSummary:
    """What a run did: detections and images of the results, images refined now and taken
    from the progress log, what the log held when opened, the image ids refined again."""
    num_detections: int
    num_images: int
    refined_now: int
    from_log: int
    log_path: Optional[str]
    resumed: str
    changed: List[str]


#: The COCO-results data of a config whose own test data are of another kind.
COCO_RESULTS_DATA = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'coco_results_refine.py')


def progress_log_path(out_file: str) -> str:
    """The progress log of a job writing ``out_file``."""
    return f'{out_file}.progress.jsonl'


def build_dataset(cfg,
                  results_file: str,
                  ann_file: str,
                  img_dir: str,
                  detections_per_batch: Optional[int] = None):
    """The config's test dataset (type and pipeline) when it reads COCO results, else the
    shipped one's (:data:`COCO_RESULTS_DATA`), pointed at the given files."""
    dataset_cfg = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    if str(dataset_cfg.get('type', '')).split('.')[-1] != 'CocoResultsRefineDataset':
        print(f'{cfg.filename}: its test_dataloader does not read COCO results; using the '
              f'model of that config with the data pipeline of {COCO_RESULTS_DATA}')
        dataset_cfg = read_config_file(COCO_RESULTS_DATA).test_dataloader.dataset
    dataset_cfg = copy.deepcopy(dataset_cfg)
    dataset_cfg.update(
        results_file=results_file,
        ann_file=ann_file,
        data_root='',
        data_prefix=dict(img=img_dir),
        skip_images_without_results=True)
    if detections_per_batch is not None:
        dataset_cfg['max_instances_per_sample'] = detections_per_batch
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        return DATASETS.build(dataset_cfg)


def log_name(info: dict) -> str:
    """How the progress log names a batch: its image id, and the index of its first
    detection when an image's detections come in several batches."""
    offset = info.get('instance_offset', 0)
    return str(info['img_id']) + (f'+{offset}' if offset else '')


def image_key(info: dict, results: List[dict]) -> str:
    """Digest of what an image's refinement depends on: its file and its detections."""
    records = [results[inst['result_index']] for inst in info['coarse_instances']]
    return fileio.digest(
        osp.basename(info['img_path']), fileio.read_bytes(info['img_path'], 'image'),
        json.dumps(records, sort_keys=True))


#: What the progress log holds per detection (a log of another layout is refused).
RECORD_FIELDS = 'segmentation,refine_score'


def refine_images(model, samples: List[dict]) -> List[List[dict]]:
    """Per image, per detection in the order of its records, ``segmentation`` (the refined
    mask as an RLE) and ``refine_score`` (module docstring).

    The images go through one ``test_step``, so the crops of all their instances
    share network batches (``instance_refiner.batch_size`` crops at a time).
    """
    refined = []
    for out in model.test_step(pseudo_collate(samples)):
        pred = out.pred_instances
        order = sorted(range(len(pred.result_indices)), key=lambda i: int(pred.result_indices[i]))
        if not order:
            refined.append([])
            continue
        scores = pred.refine_scores[order].tolist()
        refined.append([
            dict(segmentation=rle, refine_score=round(score, 6))
            for rle, score in zip(fileio.encode_masks(pred.masks[order]), scores)
        ])
    return refined


def _merge(results: List[dict],
           dataset,
           refined: Dict[int, List[dict]],
           rescore: bool = False) -> List[dict]:
    """The input records, in their order, with the refined segmentations and scores."""
    by_index = {}
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        indices = sorted(inst['result_index'] for inst in info['coarse_instances'])
        by_index.update(zip(indices, refined[index]))
    merged = []
    for index, record in enumerate(results):
        record = dict(record, **by_index[index])
        if rescore:
            record['score'] = record['score'] * record['refine_score']
        merged.append(record)
    return merged


def refine_coco_results(model,
                        results: List[dict],
                        results_file: str,
                        ann_file: str,
                        img_dir: str,
                        out_file: str,
                        checkpoint: str,
                        seed: int = 0,
                        batch_size: Optional[int] = None,
                        overwrite: bool = False,
                        rescore: bool = False,
                        detections_per_batch: Optional[int] = None) -> CocoResultsSummary:
    """Refine every detection of ``results`` and write them to ``out_file`` (module docstring).

    Args:
        model: from :func:`~mmseg_refiner.apis.init_refiner`; its test mode is set
            to ``'instance'`` with ``seed``.
        results: the records of ``results_file``, as
            :func:`mmseg_refiner.fileio.load_coco_results` checked and read them.
        results_file, ann_file, img_dir: the COCO results, the annotation file
            naming the images and categories, the image folder.
        out_file: the refined results JSON (the progress log goes beside it).
        checkpoint: the model's weights file (its digest is part of the job).
        seed: sampling seed.
        batch_size: instance crops per network call (default: the config's).
        overwrite: forget the progress log and redo every image.
        rescore: write ``score * refine_score`` as each record's score.
        detections_per_batch: most detections of an image refined at once
            (default: the dataset's ``max_instances_per_sample``).

    Raises:
        JobInterrupted: on Ctrl-C; what is done is kept in the progress log.
        JobChangedError: the progress log is of another job (and not ``overwrite``).
    """
    if not results:
        fileio.write_json_atomic(out_file, [], indent=None)
        return CocoResultsSummary(0, 0, 0, 0, None, '', [])
    job = dict(
        tool='refine_coco_results',
        model=fileio.json_digest(model.cfg.model.to_dict()),
        checkpoint=fileio.file_digest(checkpoint),
        seed=seed,
        precision=model.test_cfg['precision'],  # a resumed job must not mix precisions
        record_fields=RECORD_FIELDS)
    model.test_cfg.update(mode='instance', seed=seed)
    if batch_size is not None:
        model.instance_refiner.batch_size = batch_size
    dataset = build_dataset(model.cfg, results_file, ann_file, img_dir, detections_per_batch)

    log = fileio.ResumeLog(progress_log_path(out_file), job, restart_hint='re-run with --overwrite')
    resumed = log.open(restart=overwrite)
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
    bar = tqdm(
        total=len(dataset),
        initial=len(dataset) - len(todo),
        unit='batch',
        desc=f'refining (batches of up to {dataset.max_instances_per_sample} detections)')
    # As many samples per step as the config's test_dataloader takes (as tools/test.py does).
    step = max(int(model.cfg.test_dataloader.get('batch_size', 1)), 1)
    try:
        for start in range(0, len(todo), step):
            chunk = todo[start:start + step]
            masks = refine_images(model, [dataset[index] for index, _ in chunk])
            for (index, key), image_masks in zip(chunk, masks):
                refined[index] = image_masks
                log.add(log_name(dataset.get_data_info(index)), key, image_masks)
            bar.update(len(chunk))
    except KeyboardInterrupt:
        raise JobInterrupted(f'interrupted: {len(refined)} of {len(dataset)} batches done, kept '
                             f'in {log.path}; run the same command again to resume') from None
    finally:  # an error message then starts a line of its own
        bar.close()

    fileio.write_json_atomic(out_file, _merge(results, dataset, refined, rescore), indent=None)
    return CocoResultsSummary(
        len(results), len(dataset), len(todo),
        len(dataset) - len(todo), log.path, resumed, sorted(log.changed))
