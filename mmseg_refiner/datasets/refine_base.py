"""What the training datasets share: the bad-sample error and skipping it."""
import os.path as osp
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger
from typing import Any, Optional


class InvalidSampleError(ValueError):
    """A sample's files cannot be used: an unreadable image or mask, a mask
    whose size differs from its image's, an empty ground-truth mask.

    Transforms raise it with a message that names the file. A
    :class:`RefineBaseDataset` in training logs the message and draws another
    sample; in test mode it propagates.
    """


class RefineBaseDataset(BaseDataset):
    """:class:`mmengine.dataset.BaseDataset` that goes on without bad samples.

    In training (``test_mode=False``), an :class:`InvalidSampleError` raised
    while loading or transforming a sample is logged as a warning (naming the
    file) and the sample is replaced by a random other one, as MMEngine does
    for a pipeline that returns ``None`` (at most ``max_refetch`` times in a
    row). In test mode the error propagates, since a test set must not lose
    samples silently. Any other exception propagates in both modes.
    """

    def _resolve(self, path: Optional[str]) -> Optional[str]:
        """``path`` joined to ``data_root`` when it is relative (None stays None)."""
        if path is None or osp.isabs(path) or not self.data_root:
            return path
        return osp.join(self.data_root, path)

    def prepare_data(self, idx: int) -> Optional[Any]:
        try:
            return super().prepare_data(idx)
        except InvalidSampleError as error:
            if self.test_mode:
                raise
            MMLogger.get_current_instance().warning(
                f'{type(self).__name__}: skipped sample {idx}: {error}')
            return None
