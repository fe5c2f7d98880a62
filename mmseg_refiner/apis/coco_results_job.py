"""Refining the masks of a saved COCO results file in instance mode, resumable.

The job behind ``tools/refine_coco_results.py``. The data come from the config's
``test_dataloader`` (its dataset type and ``pipeline``), pointed at the given
files, and each image goes through the model's ``test_step`` in ``'instance'``
test mode, as with ``tools/test.py``: instance ``k`` of an image is sampled from
a generator seeded from the seed, the image's file name and ``k``, so both
routes give byte-identical masks.

Resuming uses the package's one mechanism (:mod:`mmseg_refiner.fileio.resume`):
``<out_file>.progress.jsonl`` records each finished image under the digest of
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
from typing import Dict, List, Optional

from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from tqdm import tqdm

from mmseg_refiner import fileio
from mmseg_refiner.registry import DATASETS


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


def build_dataset(cfg, results_file: str, ann_file: str, img_dir: str):
    """The config's test dataset (type and pipeline), pointed at the given files."""
    loader = cfg.get('test_dataloader')
    if not loader or 'dataset' not in loader:
        raise ValueError(f'the config {cfg.filename} has no test_dataloader.dataset to build '
                         f'the data from (e.g. configs/segrefiner/'
                         f'segrefiner_unet-128_coco-results-refine.py)')
    dataset_cfg = copy.deepcopy(loader['dataset'])
    dataset_cfg.update(
        results_file=results_file,
        ann_file=ann_file,
        data_root='',
        data_prefix=dict(img=img_dir),
        skip_images_without_results=True)
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        return DATASETS.build(dataset_cfg)


def image_key(info: dict, results: List[dict]) -> str:
    """Digest of what an image's refinement depends on: its file and its detections."""
    records = [results[inst['result_index']] for inst in info['coarse_instances']]
    return fileio.digest(
        osp.basename(info['img_path']), fileio.read_bytes(info['img_path'], 'image'),
        json.dumps(records, sort_keys=True))


#: What the progress log holds per detection (a log of another layout is refused).
RECORD_FIELDS = 'segmentation,refine_score'


def refine_image(model, sample: dict) -> List[dict]:
    """Per detection of one image, in the order of its records, ``segmentation`` (the
    refined mask as an RLE) and ``refine_score`` (module docstring)."""
    [out] = model.test_step(pseudo_collate([sample]))
    pred = out.pred_instances
    order = sorted(range(len(pred.result_indices)), key=lambda i: int(pred.result_indices[i]))
    if not order:
        return []
    scores = pred.refine_scores[order].tolist()
    return [
        dict(segmentation=rle, refine_score=round(score, 6))
        for rle, score in zip(fileio.encode_masks(pred.masks[order]), scores)
    ]


def _merge(results: List[dict], dataset, refined: Dict[int, List[dict]],
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
                        rescore: bool = False) -> CocoResultsSummary:
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
    dataset = build_dataset(model.cfg, results_file, ann_file, img_dir)

    log = fileio.ResumeLog(f'{out_file}.progress.jsonl', job,
                           restart_hint='re-run with --overwrite')
    resumed = log.open(restart=overwrite)
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
    bar = tqdm(total=len(dataset), initial=len(dataset) - len(todo), unit='img', desc='refining')
    try:
        for index, key in todo:
            refined[index] = refine_image(model, dataset[index])
            log.add(str(dataset.get_data_info(index)['img_id']), key, refined[index])
            bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        raise JobInterrupted(f'interrupted: {len(refined)} of {len(dataset)} images done, kept '
                             f'in {log.path}; run the same command again to resume') from None
    bar.close()

    fileio.write_json_atomic(out_file, _merge(results, dataset, refined, rescore), indent=None)
    return CocoResultsSummary(len(results), len(dataset), len(todo), len(dataset) - len(todo),
                              log.path, resumed, sorted(log.changed))
