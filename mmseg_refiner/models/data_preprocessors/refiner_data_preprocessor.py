"""Data preprocessor of SegRefiner: device transfer, BGR->RGB, normalization."""
import torch
from mmengine.model import BaseDataPreprocessor
from typing import List, Sequence, Union

from mmseg_refiner.registry import MODELS
from mmseg_refiner.structures import sample_name


@MODELS.register_module()
class RefinerDataPreprocessor(BaseDataPreprocessor):
    """Move a batch to the model's device and normalize its images.

    Each image (3xHxW uint8 tensor, BGR as packed by ``PackRefineInputs``) is
    optionally flipped to RGB, converted to float and normalized with
    ``(img - mean) / std``. Images of one size are stacked into an
    (N, 3, H, W) tensor; when sizes differ (full-resolution test images) the
    batch stays a list of (3, H, W) tensors, unpadded, since the refiners crop
    and resize each image themselves. Data samples (with their masks) are
    moved to the device unchanged.

    Args:
        mean (Sequence[float]): per-channel mean, in the output channel order
            (RGB when ``bgr_to_rgb``). Defaults to ImageNet's.
        std (Sequence[float]): per-channel standard deviation, same order.
            Defaults to ImageNet's.
        bgr_to_rgb (bool): flip the channel order before normalizing.
            Defaults to True.
        non_blocking (bool): asynchronous host-to-device copies.
            Defaults to False.
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 bgr_to_rgb: bool = True,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f'RefinerDataPreprocessor: mean and std need 3 values each and a '
                             f'positive std, got mean={list(mean)}, std={list(std)}')
        self.bgr_to_rgb = bgr_to_rgb
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(3, 1, 1), False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(3, 1, 1), False)

    def normalize(self, img: torch.Tensor) -> torch.Tensor:
        """(3, H, W) image (any dtype, input channel order) -> normalized float."""
        if self.bgr_to_rgb:
            img = img.flip(0)
        return (img.float() - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a collated batch.

        Args:
            data (dict): ``inputs`` (list of 3xHxW tensors, or an (N, 3, H, W)
                tensor) and optionally ``data_samples``.
            training (bool): unused; the same processing applies in training
                and testing.

        Returns:
            dict: ``inputs`` ((N, 3, H, W) float tensor, or a list of
            (3, H, W) float tensors when sizes differ) and ``data_samples``.
        """
        data = self.cast_data(data)
        data_samples = data.get('data_samples')
        images: Union[torch.Tensor, List[torch.Tensor]] = data['inputs']
        if len(images) == 0:
            raise ValueError('RefinerDataPreprocessor: the batch holds no image')
        for i, img in enumerate(images):
            if img.dim() != 3 or img.shape[0] != 3:
                raise ValueError(f'RefinerDataPreprocessor: image of '
                                 f'{sample_name(data_samples, i)} has shape '
                                 f'{tuple(img.shape)}, expected (3, H, W)')
        normalized = [self.normalize(img) for img in images]
        if all(img.shape == normalized[0].shape for img in normalized):
            inputs = torch.stack(normalized)
        else:
            inputs = normalized
        return dict(inputs=inputs, data_samples=data_samples)
