"""Writing refined masks to files during ``tools/test.py`` runs."""
from typing import Optional, Sequence

from mmengine.hooks import Hook

from mmseg_refiner.apis.inputs import to_uint8_mask, write_image_atomic
from mmseg_refiner.registry import HOOKS


@HOOKS.register_module()
class RefinedMaskWriter(Hook):
    """Write each test sample's refined mask (``pred_mask``) as a 0/255 PNG.

    The path comes from the sample's meta information (``out_path``, set by
    the test datasets of ``mmseg_refiner.datasets.hr_test`` from their
    ``out_dir``; ``PackRefineInputs`` must list it in ``meta_keys``), so the
    dataset alone decides names and which samples are already done
    (``skip_done=True``). Each file is written to a temporary file beside it
    and moved into place with ``os.replace``: an interrupted run never leaves
    a half-written mask that a resumed run would take as finished.

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
            write_image_atomic(path, to_uint8_mask(mask.reshape(mask.shape[-2:]).cpu().numpy()))
            self._written += 1

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        runner.logger.info(f'RefinedMaskWriter: wrote {self._written} refined masks')
