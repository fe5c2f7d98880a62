"""Building blocks of the ADM-style denoising U-Net (Nichol & Dhariwal, 2021).

Every block keeps the layout of the published SegRefiner weights (see
:mod:`.official_checkpoint` for the name mapping), so converted checkpoints load
without reshaping any tensor.
"""
import math
import torch
import torch.nn.functional as F
from torch import nn
from typing import Optional


def zero_init(module: nn.Module) -> nn.Module:
    """Set every parameter of ``module`` to zero (ADM's init of the last
    layer of each residual branch) and return it."""
    for param in module.parameters():
        nn.init.zeros_(param)
    return module


def sinusoidal_timestep_embedding(timesteps: torch.Tensor,
                                  dim: int,
                                  max_period: float = 10000.0) -> torch.Tensor:
    """Transformer-style sinusoidal embedding of integer timesteps.

    Args:
        timesteps (Tensor): (N,) timesteps.
        dim (int): embedding width; the first half holds cosines, the second
            sines (a zero column is appended when ``dim`` is odd).
        max_period (float): longest wavelength. Defaults to 10000.

    Returns:
        Tensor: (N, dim) float32 embedding.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) *
                      torch.arange(half, dtype=torch.float32, device=timesteps.device) / half)
    args = timesteps.float()[:, None] * freqs[None]
    embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        embedding = F.pad(embedding, (0, 1))
    return embedding


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` whose result in bf16 / fp16 does not depend on the batch size.

    The CPU kernel picks its algorithm (channels_last or contiguous, whose
    rounding differs in bf16) from the strides, and a one-image batch can
    reach a norm in another layout than the same image inside a batch (ops
    choose the layout of a size-1 batch differently; a size-1 dimension's
    stride is arbitrary). In reduced precision, where the network runs in
    ``channels_last`` (:mod:`mmseg_refiner.models.utils.precision`), a 4-D
    input is therefore given canonical ``channels_last`` strides (a view when
    it already is channels_last, as it almost always is), so that one image
    and a batch take the same kernel. float32 is left as it is.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and x.dtype in (torch.bfloat16, torch.float16):
            x = x.contiguous(memory_format=torch.channels_last)
            n, c, h, w = x.shape
            x = x.as_strided(x.shape, (c * h * w, 1, w * c, c))  # canonical also along N = 1
        return super().forward(x)


class ResidualBlock(nn.Module):
    """GroupNorm + SiLU residual block conditioned on the timestep embedding.

    ``out = shortcut(x) + conv2(drop(act(norm2(conv1(act(norm1(x))) + emb_proj(act(emb))))))``,
    the embedding added per channel. ``shortcut`` is a 1x1 convolution when the
    width changes, the identity otherwise. ``conv2`` starts at zero (ADM), so a
    freshly built block returns ``shortcut(x)``.

    Args:
        in_channels (int): input width.
        out_channels (int): output width.
        embed_channels (int): width of the timestep embedding.
        norm_groups (int): GroupNorm groups.
        dropout (float): dropout before the second convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, embed_channels: int, norm_groups: int,
                 dropout: float):
        super().__init__()
        self.norm1 = GroupNorm(norm_groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb_proj = nn.Linear(embed_channels, out_channels)
        self.norm2 = GroupNorm(norm_groups, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.shortcut = (
            nn.Identity() if in_channels == out_channels else nn.Conv2d(
                in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb_proj(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.shortcut(x) + h


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over all pixels, with a residual connection.

    The 1x1 ``qkv`` projection's output channels are grouped **per head**:
    head ``i`` owns channels ``[3*d*i, 3*d*(i+1))`` (``d = channels /
    num_heads``), ordered query, key, value. This is the layout of ADM's
    original ("legacy") attention, the one the published SegRefiner weights
    use; the newer ADM layout (all queries, then all keys, then all values)
    gives different results with the same weights. Scores are scaled by
    ``1/sqrt(d)``. ``proj`` starts at zero (ADM).

    Args:
        channels (int): feature width (divisible by ``num_heads``).
        num_heads (int): attention heads.
        norm_groups (int): GroupNorm groups.
    """

    def __init__(self, channels: int, num_heads: int, norm_groups: int):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'attention width {channels} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.norm = nn.GroupNorm(norm_groups, channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = zero_init(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        tokens = x.reshape(n, c, h * w)
        qkv = self.qkv(self.norm(tokens))
        # (N, heads, 3*d, HW) -> three (N, heads, HW, d) tensors
        q, k, v = qkv.reshape(n, self.num_heads, 3 * c // self.num_heads,
                              h * w).transpose(-1, -2).chunk(
                                  3, dim=-1)
        attended = F.scaled_dot_product_attention(q, k, v)
        attended = attended.transpose(-1, -2).reshape(n, c, h * w)
        out = (tokens + self.proj(attended)).reshape(n, c, h, w)
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            # keep channels_last (bf16 inference) for the layers after it, whatever the batch
            out = out.contiguous(memory_format=torch.channels_last)
        return out


class ResAttnBlock(nn.Module):
    """A :class:`ResidualBlock`, followed by :class:`SelfAttention2d` if asked."""

    def __init__(self, in_channels: int, out_channels: int, embed_channels: int, norm_groups: int,
                 dropout: float, num_heads: Optional[int]):
        super().__init__()
        self.resblock = ResidualBlock(in_channels, out_channels, embed_channels, norm_groups,
                                      dropout)
        self.attention = (
            SelfAttention2d(out_channels, num_heads, norm_groups)
            if num_heads is not None else None)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        x = self.resblock(x, emb)
        return x if self.attention is None else self.attention(x)


class Downsample(nn.Module):
    """Halve the resolution with a stride-2 3x3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour x2, then a 3x3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode='nearest'))
