"""Writing refined masks to files during ``tools/test.py`` runs."""
import os.path as osp
from mmengine.hooks import Hook
from typing import Optional, Sequence

from mmseg_refiner.fileio import (FOLDER_LOG_NAME, ResumeLog, file_digest, files_digest,
                                  json_digest, relative_name, write_mask_png)
from mmseg_refiner.registry import HOOKS


@HOOKS.register_module()
class RefinedMaskWriter(Hook):
    """Write each test sample's refined mask (``pred_mask``) as a 0/255 PNG.

    The path comes from the sample's meta information (``out_path``, set by
    the test datasets of ``mmseg_refiner.datasets.folder_datasets`` from their
    ``out_dir``; ``PackRefineInputs`` must list it in ``meta_keys``), so the
    dataset alone decides names and which samples are already done
    (``skip_done=True``). Each file is written to a temporary file beside it
    and moved into place with ``os.replace``: an interrupted run never leaves
    a half-written mask that a resumed run would take as finished.

    When the test dataset has an ``out_dir``, every written mask is recorded in
    that folder's progress log (:mod:`mmseg_refiner.fileio.resume`) under the
    digest of its image and coarse-mask files, which is what the dataset's
    ``skip_done`` reads. The log's job is the model config, the checkpoint
    (``load_from``) and the seed: a run with others is refused before it
    starts, so one folder never mixes masks of two models.

    Args:
        path_key (str): meta key holding the output path. Defaults to
            ``'out_path'``.
    """

    priority = 'NORMAL'

    def __init__(self, path_key: str = 'out_path') -> None:
        self.path_key = path_key
        self._written = 0

    def before_test(self, runner) -> None:
        self._written = 0
        self._log, self._out_dir = None, getattr(runner.test_dataloader.dataset, 'out_dir', None)
        if self._out_dir is None:
            return
        model = getattr(runner.model, 'module', runner.model)
        checkpoint = runner.cfg.get('load_from')
        self._log = ResumeLog(
            osp.join(self._out_dir, FOLDER_LOG_NAME),
            dict(
                tool='test',
                model=json_digest(runner.cfg.model.to_dict()),
                checkpoint=file_digest(checkpoint)
                if checkpoint and osp.isfile(checkpoint) else None,
                seed=getattr(model, 'test_cfg', {}).get('seed')),
            restart_hint=f'delete {osp.join(self._out_dir, FOLDER_LOG_NAME)} (or choose another '
            'out_dir)')
        self._log.open()

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or ():
            path = sample.metainfo.get(self.path_key)
            if path is None:
                raise KeyError(
                    f'RefinedMaskWriter: sample {sample.metainfo.get("img_path")} has no '
                    f'"{self.path_key}"; give the test dataset an out_dir and list '
                    f'"{self.path_key}" in PackRefineInputs meta_keys')
            mask = sample.pred_mask.data
            write_mask_png(path, mask.reshape(mask.shape[-2:]).cpu().numpy())
            self._written += 1
            if self._log is not None:
                name = relative_name(path, self._out_dir)
                key = files_digest(name, sample.metainfo['img_path'],
                                   sample.metainfo['coarse_path'])
                self._log.add(name, key, dict(out=file_digest(path)))

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        runner.logger.info(f'RefinedMaskWriter: wrote {self._written} refined masks')
