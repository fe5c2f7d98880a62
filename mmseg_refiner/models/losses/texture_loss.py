"""SegRefiner's texture loss: L1 between the gradient magnitudes of the
predicted probability map and of the target mask."""
import torch
import torch.nn.functional as F
from torch import nn

from mmseg_refiner.registry import MODELS


def gradient_magnitude(maps: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Smoothed Sobel gradient magnitude of (N, 1, H, W) maps.

    Each map is 3x3 average-pooled (stride 1, zero padding 1, PyTorch's default
    ``count_include_pad=True``: every window is divided by 9, so border pixels
    are pulled towards 0 as if the map were zero outside), then convolved
    (zero padding 1) with the Sobel kernels ``[[1,0,-1],[2,0,-2],[1,0,-1]] / 4``
    (x) and ``[[1,2,1],[0,0,0],[-1,-2,-1]] / 4`` (y) as a cross-correlation.

    Args:
        maps (Tensor): (N, 1, H, W) float maps.
        eps (float): added under the square root,
            ``sqrt(gx^2 + gy^2 + eps)``, so its gradient stays finite at 0.

    Returns:
        Tensor: (N, 1, H, W) gradient magnitude.
    """
    if maps.dim() != 4 or maps.shape[1] != 1:
        raise ValueError(f'gradient_magnitude expects (N, 1, H, W) maps, got {tuple(maps.shape)}')
    smoothed = F.avg_pool2d(maps, kernel_size=3, stride=1, padding=1)
    sobel_x = maps.new_tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]) / 4
    kernels = torch.stack([sobel_x, sobel_x.t()]).unsqueeze(1)  # (2, 1, 3, 3): x then y
    grads = F.conv2d(smoothed, kernels, padding=1)
    return torch.sqrt(grads.pow(2).sum(dim=1, keepdim=True) + eps)


@MODELS.register_module()
class TextureLoss(nn.Module):
    """Mean L1 between the gradient magnitudes of ``sigmoid(logits)`` and the target.

    It penalizes blurred or misplaced edges that a per-pixel BCE barely sees
    (SegRefiner, Sec. 3.3; weight 5 in the paper).

    Args:
        loss_weight (float): factor on the loss. Defaults to 5.0.
        eps (float): stabilizer under the magnitude's square root.
            Defaults to 1e-4.
    """

    def __init__(self, loss_weight: float = 5.0, eps: float = 1e-4) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the weighted loss.

        Args:
            logits (Tensor): (N, 1, H, W) predicted mask logits.
            target (Tensor): (N, 1, H, W) target mask, {0, 1}.

        Returns:
            Tensor: scalar loss.
        """
        if logits.shape != target.shape:
            raise ValueError(f'TextureLoss: logits {tuple(logits.shape)} and target '
                             f'{tuple(target.shape)} differ in shape')
        pred_grad = gradient_magnitude(logits.sigmoid(), self.eps)
        target_grad = gradient_magnitude(target.to(pred_grad.dtype), self.eps)
        return self.loss_weight * F.l1_loss(pred_grad, target_grad)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, eps={self.eps}'
