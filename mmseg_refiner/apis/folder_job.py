"""Refining mask files on disk: one image's mask, or every mask of a folder (resumable).

The jobs behind ``tools/refine.py``. A folder run reads its data through
``MaskFolderDataset`` with the pipeline of the model config's
``test_dataloader`` when that is a ``MaskFolderDataset``, else of
``configs/_base_/datasets/mask_folder_refine.py``; samples are seeded by their
image's file name, so ``tools/test.py`` on a config with that dataset gives the
same PNGs. Refined masks are written as 0/255 uint8 PNGs, atomically, with on
request the probability maps and pictures (:mod:`.outputs`). A folder
run resumes with the package's one resume mechanism (:mod:`mmseg_refiner.fileio.resume`):
``<out_dir>/.segrefiner-progress.jsonl`` records each finished image by the
digest of its image and mask files, so a re-run skips exactly the images whose
inputs and output are unchanged, refines again those whose inputs were edited,
and refuses to mix in results of another model, checkpoint, seed, precision or
mode (``overwrite=True`` starts afresh).
"""
import copy
import os.path as osp
from dataclasses import dataclass, field
from mmengine.registry import DefaultScope
from tqdm import tqdm
from typing import Dict, List, Optional, Tuple

from mmseg_refiner.evaluation.functional import mask_record, summarize_mask_records
from mmseg_refiner.fileio import (FOLDER_LOG_NAME, ResumeLog, file_digest, files_digest,
                                  json_digest, relative_name)
from mmseg_refiner.registry import DATASETS
from mmseg_refiner.utils.config_file import read_config_file
from .inference import REPO_ROOT, refine
from .inputs import to_bgr_image, to_bool_masks
from .outputs import OutputPaths, write_refinement

#: The folder dataset a folder run uses unless the model config has one.
FOLDER_DATASET_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                                 'mask_folder_refine.py')


@dataclass
class FolderSummary:
    """What a folder run did: file names done and skipped (already refined from the same
    files), ``(name, reason)`` of the failed ones, and the names refined again because
    their inputs changed."""
    done: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)
    changed: List[str] = field(default_factory=list)


def refine_file(model,
                image_path: str,
                mask_path: str,
                paths: OutputPaths,
                mode: str,
                seed: Optional[int],
                gt_path: Optional[str] = None,
                probs_bits: int = 8,
                vis_probs: bool = False) -> Tuple:
    """Refine one image's mask and write the files of ``paths`` (the picture with the
    ground truth when ``gt_path`` is given; ``probs_bits`` and ``vis_probs`` as
    :func:`.outputs.write_refinement`).

    Returns:
        ``(image, coarse, refined, gt)`` as arrays (BGR image, bool masks; ``gt``
        None without ``gt_path``).
    """
    image = to_bgr_image(image_path)
    coarse = to_bool_masks(mask_path, image.shape[:2])[0][0]
    gt = None if gt_path is None else to_bool_masks(gt_path, image.shape[:2])[0][0]
    refined, prob = refine(
        model,
        image,
        coarse,
        mode=mode,
        seed=seed,
        name=osp.basename(image_path),
        return_probs=True)
    write_refinement(paths, image, coarse, refined, prob, gt, probs_bits, vis_probs)
    return image, coarse, refined, gt


def score_masks(coarse, refined, gt) -> Dict[str, float]:
    """IoU and mBA of the coarse and the refined mask against the ground truth."""
    return summarize_mask_records([mask_record(refined, gt, coarse)])


def folder_dataset(cfg,
                   img_dir: str,
                   mask_dir: str,
                   out_dir: str,
                   img_suffix: Optional[str] = None,
                   mask_suffix: str = '.png',
                   out_suffix: str = '.png'):
    """The ``MaskFolderDataset`` of a folder run (module docstring), pointed at the folders."""
    loader = cfg.get('test_dataloader')
    if not loader or loader.get('dataset', {}).get('type') != 'MaskFolderDataset':
        loader = read_config_file(FOLDER_DATASET_CONFIG).test_dataloader
    dataset_cfg = copy.deepcopy(loader['dataset'])
    dataset_cfg.update(
        data_root='',
        img_dir=img_dir,
        coarse_dir=mask_dir,
        coarse_suffix=mask_suffix,
        gt_dir=None,
        out_dir=out_dir,
        out_suffix=out_suffix,
        skip_done=False,
        on_missing='error')
    dataset_cfg.pop('img_suffix', None)
    if img_suffix is not None:
        dataset_cfg['img_suffix'] = img_suffix
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        return DATASETS.build(dataset_cfg)


def _outputs_intact(result: dict, paths: OutputPaths) -> bool:
    return paths.exist() and file_digest(paths.out) == result.get('out')


def _refine_sample(model, sample: dict, name: str, mode: str, seed: Optional[int]) -> Tuple:
    """``(image, coarse, refined, prob)`` of a packed folder sample, refined as
    ``tools/test.py`` does."""
    image = sample['inputs'].permute(1, 2, 0).numpy()
    coarse = sample['data_samples'].coarse_mask.data[0].numpy() != 0
    return (image, coarse,
            *refine(model, image, coarse, mode=mode, seed=seed, name=name, return_probs=True))


def refine_folder(model,
                  img_dir: str,
                  mask_dir: str,
                  out_dir: str,
                  checkpoint: Optional[str],
                  vis_dir: Optional[str] = None,
                  mode: str = 'auto',
                  seed: Optional[int] = 0,
                  img_suffix: Optional[str] = None,
                  mask_suffix: str = '.png',
                  out_suffix: str = '.png',
                  overwrite: bool = False,
                  probs_dir: Optional[str] = None,
                  probs_bits: int = 8,
                  vis_probs: bool = False) -> FolderSummary:
    """Refine every image of a folder; one bad file does not stop the others.

    Args:
        model: from :func:`~mmseg_refiner.apis.init_refiner`.
        img_dir, mask_dir: the images, and their coarse masks matched by name
            (``<stem><mask_suffix>``).
        out_dir: where ``<stem><out_suffix>`` and the progress log are written.
        checkpoint: the file the model's weights came from (its digest is part
            of the job in the progress log), or None.
        vis_dir: also write a picture of each change there.
        probs_dir: also write each refined probability there (``<stem><out_suffix>``).
        probs_bits, vis_probs: as :func:`.outputs.write_refinement`.
        mode, seed: as :func:`~mmseg_refiner.apis.refine`.
        overwrite: forget the progress log and refine every image again.

    Raises:
        JobChangedError: the progress log is of another model, checkpoint, seed,
            precision or mode (and ``overwrite`` is False).
    """
    dataset = folder_dataset(model.cfg, img_dir, mask_dir, out_dir, img_suffix, mask_suffix,
                             out_suffix)
    job = dict(
        tool='refine',
        model=json_digest(model.cfg.model.to_dict()),
        checkpoint=file_digest(checkpoint) if checkpoint else None,
        seed=seed,
        precision=model.test_cfg['precision'],  # a resumed job must not mix precisions
        mode=mode)
    log = ResumeLog(osp.join(out_dir, FOLDER_LOG_NAME), job, restart_hint='re-run with --overwrite')
    log.open(restart=overwrite)
    summary = FolderSummary()
    progress = tqdm(range(len(dataset)), desc='refining', unit='img')
    for index in progress:
        info = dataset.get_data_info(index)
        name = osp.basename(info['img_path'])
        out_path = info['out_path']
        paths = OutputPaths(
            out_path,
            *(osp.join(folder, osp.basename(out_path)) if folder else None
              for folder in (probs_dir, vis_dir)))
        log_name = relative_name(out_path, out_dir)
        try:
            key = files_digest(log_name, info['img_path'], info['coarse_path'])
            result = log.finished(log_name, key)
            if result is not None and _outputs_intact(result, paths):
                summary.skipped.append(name)
                continue
            image, coarse, refined, prob = _refine_sample(model, dataset[index], name, mode, seed)
            write_refinement(paths, image, coarse, refined, prob, None, probs_bits, vis_probs)
            log.add(log_name, key, dict(out=file_digest(out_path)))
            summary.done.append(name)
        except Exception as err:  # one bad file must not stop the others
            reason = str(err) if isinstance(err, (ValueError, OSError)) else repr(err)
            summary.failed.append((name, reason))
        progress.set_postfix(
            done=len(summary.done), skipped=len(summary.skipped), failed=len(summary.failed))
    progress.close()
    summary.changed = sorted(log.changed)
    return summary
