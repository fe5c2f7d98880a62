"""The SegRefiner denoising network: an ADM-style U-Net predicting mask logits."""
import torch
from mmengine.model import BaseModule
from torch import nn
from typing import List, Optional, Sequence, Union

from mmseg_refiner.registry import MODELS
from .blocks import (Downsample, GroupNorm, ResAttnBlock, ResidualBlock, SelfAttention2d, Upsample,
                     sinusoidal_timestep_embedding, zero_init)


class EncoderLevel(nn.Module):
    """The blocks of one encoder resolution, then an optional downsampling."""

    def __init__(self, blocks: List[ResAttnBlock], downsample: Optional[Downsample]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample


class DecoderLevel(nn.Module):
    """The blocks of one decoder resolution, then an optional upsampling."""

    def __init__(self, blocks: List[ResAttnBlock], upsample: Optional[Upsample]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.upsample = upsample


class MiddleBlock(nn.Module):
    """Residual block, self-attention, residual block at the lowest resolution."""

    def __init__(self, channels: int, embed_channels: int, norm_groups: int, dropout: float,
                 num_heads: int):
        super().__init__()
        self.resblock1 = ResidualBlock(channels, channels, embed_channels, norm_groups, dropout)
        self.attention = SelfAttention2d(channels, num_heads, norm_groups)
        self.resblock2 = ResidualBlock(channels, channels, embed_channels, norm_groups, dropout)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.resblock2(self.attention(self.resblock1(x, emb)), emb)


@MODELS.register_module()
class DenoiseUNet(BaseModule):
    """ADM-style U-Net (Nichol & Dhariwal, ICML 2021) predicting mask logits.

    The SegRefiner denoiser: it sees the image and the current mask and predicts
    the logits of the fine mask. It holds no diffusion schedule.

    Input encoding (what the published weights expect): ``x`` is
    ``cat([image, mask], dim=1)`` where ``image`` is the RGB image normalized
    with the ImageNet mean/std (3 channels) and ``mask`` is the current mask as
    float with values exactly 0. (background) and 1. (foreground), used as is
    (no rescaling to [-1, 1]). ``t`` holds integer timesteps in
    ``[0, num_timesteps)``.

    Layout (``L = len(channel_mult)`` levels, level ``l`` at stride ``2**l`` with
    width ``model_channels * channel_mult[l]``): ``input_conv`` (3x3); per level
    ``num_res_blocks`` residual blocks (self-attention after each if ``2**l`` is
    in ``attention_strides``) and a stride-2 convolution except at the last
    level; a middle block (residual, attention, residual); per level, deepest
    first, ``num_res_blocks + 1`` residual blocks, each fed the concatenation
    with one stored encoder feature (same attention rule) and, except at level
    0, nearest x2 upsampling followed by a 3x3 convolution; ``output_head``
    (GroupNorm, SiLU, 3x3 convolution). The timestep embedding (width
    ``4 * model_channels``) is added per channel inside every residual block.
    As in ADM, the last layer of every residual branch and the output
    convolution start at zero.

    The published configuration (LR and HR checkpoints) is the default one and
    has 118,604,673 parameters.

    Args:
        in_channels (int): input channels (RGB + mask). Defaults to 4.
        out_channels (int): output channels (mask logits). Defaults to 1.
        model_channels (int): width at stride 1. Defaults to 128.
        num_res_blocks (int): residual blocks per encoder level (the decoder
            has one more per level). Defaults to 2.
        num_heads (int): attention heads in the encoder and middle block.
            Defaults to 4.
        num_heads_upsample (int): attention heads in the decoder; -1 means
            ``num_heads``. Defaults to -1.
        attention_strides (Sequence[int]): strides (powers of 2) whose levels
            get self-attention. Defaults to (16, 32).
        learn_time_embd (bool): True: a learned table (``nn.Embedding`` with
            ``num_timesteps`` rows of width ``4 * model_channels``), as
            published. False: ADM's sinusoidal embedding of width
            ``model_channels`` followed by Linear-SiLU-Linear. Defaults to True.
        channel_mult (Sequence[int]): width multiplier per level. Defaults to
            (1, 1, 2, 2, 4, 4).
        dropout (float): dropout inside the residual blocks. Defaults to 0.
        num_timesteps (int): rows of the learned timestep table (the
            diffusion's T). Defaults to 6.
        norm_groups (int): groups of every GroupNorm. Every width must be
            divisible by it; tiny test networks with ``model_channels < 32``
            need a smaller value. Defaults to 32 (published).
        init_cfg (dict, optional): MMEngine initialization config, e.g.
            ``dict(type='Pretrained', checkpoint=...)``. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 4,
                 out_channels: int = 1,
                 model_channels: int = 128,
                 num_res_blocks: int = 2,
                 num_heads: int = 4,
                 num_heads_upsample: int = -1,
                 attention_strides: Sequence[int] = (16, 32),
                 learn_time_embd: bool = True,
                 channel_mult: Sequence[int] = (1, 1, 2, 2, 4, 4),
                 dropout: float = 0.0,
                 num_timesteps: int = 6,
                 norm_groups: int = 32,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        widths = [model_channels * mult for mult in channel_mult]
        bad_widths = [w for w in [model_channels] + widths if w % norm_groups]
        if bad_widths:
            raise ValueError(f'DenoiseUNet: widths {bad_widths} are not divisible by '
                             f'norm_groups={norm_groups}; lower norm_groups')
        self.num_timesteps = num_timesteps
        self.learn_time_embd = learn_time_embd
        self.model_channels = model_channels
        self.num_levels = len(channel_mult)
        embed_channels = 4 * model_channels
        heads_up = num_heads if num_heads_upsample == -1 else num_heads_upsample
        attention_strides = set(attention_strides)

        if learn_time_embd:
            self.time_embedding = nn.Embedding(num_timesteps, embed_channels)
        else:
            self.time_embedding = nn.Sequential(
                nn.Linear(model_channels, embed_channels), nn.SiLU(),
                nn.Linear(embed_channels, embed_channels))

        def res_attn(cin: int, cout: int, stride: int, heads: int) -> ResAttnBlock:
            return ResAttnBlock(cin, cout, embed_channels, norm_groups, dropout,
                                heads if stride in attention_strides else None)

        self.input_conv = nn.Conv2d(in_channels, model_channels, 3, padding=1)
        skip_widths = [model_channels]  # widths of the features the decoder concatenates
        ch = model_channels
        encoder = []
        for level, width in enumerate(widths):
            blocks = []
            for _ in range(num_res_blocks):
                blocks.append(res_attn(ch, width, 2**level, num_heads))
                ch = width
                skip_widths.append(ch)
            downsample = None
            if level < self.num_levels - 1:
                downsample = Downsample(ch)
                skip_widths.append(ch)
            encoder.append(EncoderLevel(blocks, downsample))
        self.encoder = nn.ModuleList(encoder)

        self.middle = MiddleBlock(ch, embed_channels, norm_groups, dropout, num_heads)

        decoder = []
        for level, width in reversed(list(enumerate(widths))):
            blocks = []
            for _ in range(num_res_blocks + 1):
                blocks.append(res_attn(ch + skip_widths.pop(), width, 2**level, heads_up))
                ch = width
            decoder.append(DecoderLevel(blocks, Upsample(ch) if level > 0 else None))
        # stored deepest first, in the order they run
        self.decoder = nn.ModuleList(decoder)

        self.output_head = nn.Sequential(
            GroupNorm(norm_groups, ch), nn.SiLU(),
            zero_init(nn.Conv2d(ch, out_channels, 3, padding=1)))

    def embed_timesteps(self, t: torch.Tensor) -> torch.Tensor:
        """(N,) integer timesteps -> (N, 4 * model_channels) embedding."""
        if self.learn_time_embd:
            return self.time_embedding(t)
        embedding = sinusoidal_timestep_embedding(t, self.model_channels)
        # in the network's dtype (float32, or bf16 when it runs on bf16 weights)
        return self.time_embedding(embedding.to(self.time_embedding[0].weight.dtype))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predict the fine-mask logits.

        Args:
            x (Tensor): (N, 4, H, W) normalized RGB and current {0, 1} mask;
                H and W divisible by ``2 ** (len(channel_mult) - 1)``.
            t (Tensor): (N,) long timesteps in ``[0, num_timesteps)``.

        Returns:
            Tensor: (N, 1, H, W) logits.
        """
        factor = 2**(self.num_levels - 1)
        if x.dim() != 4 or x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(f'DenoiseUNet expects (N, C, H, W) input with H and W divisible by '
                             f'{factor}, got shape {tuple(x.shape)}')
        if t.shape != x.shape[:1]:
            raise ValueError(f'DenoiseUNet expects one timestep per sample: t has shape '
                             f'{tuple(t.shape)}, x has batch size {x.shape[0]}')
        emb = self.embed_timesteps(t)

        h = self.input_conv(x)
        skips = [h]
        for level in self.encoder:
            for block in level.blocks:
                h = block(h, emb)
                skips.append(h)
            if level.downsample is not None:
                h = level.downsample(h)
                skips.append(h)

        h = self.middle(h, emb)

        for level in self.decoder:
            for block in level.blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if level.upsample is not None:
                h = level.upsample(h)
        return self.output_head(h)
