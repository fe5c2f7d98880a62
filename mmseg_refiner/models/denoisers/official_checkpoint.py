"""Mapping the authors' published SegRefiner weights onto :class:`DenoiseUNet`.

The published LR and HR checkpoints come from an mmdet-2.x fork
(``{'meta', 'state_dict', 'optimizer'}``). Their ``state_dict`` holds

* ``denoise_model.*``: the U-Net, in improved-diffusion's flat layout
  (``input_blocks.{i}.{j}``, ``middle_block.{j}``, ``output_blocks.{i}.{j}``,
  ``out.{j}``, ``time_embed``). Every one of these keys is renamed onto
  :class:`DenoiseUNet`; no tensor is reshaped or reordered (our attention keeps
  the published per-head ``qkv`` layout).
* ``loss_texture.sobel.conv_{x,y}.weight``: the texture loss's fixed Sobel
  kernels. They are constants of the loss, not learned, and our texture loss
  builds them from its config, so they are **dropped** (and reported).

Any other key raises :class:`UnknownOfficialKeyError`: silently ignoring
weights would hide a checkpoint of a different design.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Tuple

import torch

OFFICIAL_NETWORK_PREFIX = 'denoise_model.'
#: Published keys that are constants of a loss; the converter drops them.
OFFICIAL_DROPPED_PREFIXES = ('loss_texture.',)

_RESBLOCK_LAYERS = {
    'in_layers.0.': 'norm1.',
    'in_layers.2.': 'conv1.',
    'emb_layers.1.': 'emb_proj.',
    'out_layers.0.': 'norm2.',
    'out_layers.3.': 'conv2.',
    'skip_connection.': 'shortcut.',
}
_ATTENTION_LAYERS = {'norm.': 'norm.', 'qkv.': 'qkv.', 'proj_out.': 'proj.'}
_BLOCK_KEY = re.compile(r'(input_blocks|output_blocks)\.(\d+)\.(\d+)\.(.+)')


class UnknownOfficialKeyError(KeyError):
    """A published checkpoint holds keys the converter cannot place."""

    def __str__(self) -> str:
        return str(self.args[0])


def _rename_layer(rest: str, table: Dict[str, str]) -> str:
    for old, new in table.items():
        if rest.startswith(old):
            return new + rest[len(old):]
    raise KeyError(rest)


def _rename_sublayer(rest: str) -> str:
    """``in_layers.2.weight`` -> ``resblock.conv1.weight``, ``qkv.bias`` ->
    ``attention.qkv.bias``."""
    try:
        return 'resblock.' + _rename_layer(rest, _RESBLOCK_LAYERS)
    except KeyError:
        return 'attention.' + _rename_layer(rest, _ATTENTION_LAYERS)


def _infer_num_res_blocks(network_keys: List[str]) -> int:
    """Residual blocks per encoder level, from where the first downsampling sits.

    ``input_blocks.0`` is the stem convolution, each encoder level contributes
    ``num_res_blocks`` entries and then (except the last level) one
    downsampling entry, whose parameters are named ``op``.
    """
    indices = {}
    for key in network_keys:
        match = _BLOCK_KEY.match(key)
        if match and match.group(1) == 'input_blocks':
            indices.setdefault(int(match.group(2)), set()).add(match.group(4).split('.')[0])
    if not indices:
        raise UnknownOfficialKeyError('the checkpoint has no denoise_model.input_blocks.* keys')
    downsample_indices = [i for i, names in indices.items() if 'op' in names]
    if downsample_indices:
        return min(downsample_indices) - 1
    return max(indices)


def _rename_network_key(key: str, num_res_blocks: int) -> str:
    """One published ``denoise_model.``-less key -> our :class:`DenoiseUNet` key."""
    entries_per_level = num_res_blocks + 1
    if key.startswith('time_embed.'):
        return 'time_embedding.' + key[len('time_embed.'):]
    if key.startswith('input_blocks.0.0.'):
        return 'input_conv.' + key[len('input_blocks.0.0.'):]
    if key.startswith('out.'):
        return 'output_head.' + key[len('out.'):]
    middle = re.match(r'middle_block\.([012])\.(.+)', key)
    if middle:
        part, rest = middle.group(1), middle.group(2)
        if part == '1':
            return 'middle.attention.' + _rename_layer(rest, _ATTENTION_LAYERS)
        name = 'middle.resblock1.' if part == '0' else 'middle.resblock2.'
        return name + _rename_layer(rest, _RESBLOCK_LAYERS)
    block = _BLOCK_KEY.match(key)
    if block is None:
        raise KeyError(key)
    kind, index, rest = block.group(1), int(block.group(2)), block.group(4)
    if kind == 'input_blocks':
        level, position = divmod(index - 1, entries_per_level)
        if position == num_res_blocks:
            return f'encoder.{level}.downsample.conv.' + rest[len('op.'):]
        return f'encoder.{level}.blocks.{position}.' + _rename_sublayer(rest)
    level, position = divmod(index, entries_per_level)
    if rest.startswith('conv.'):
        return f'decoder.{level}.upsample.' + rest
    return f'decoder.{level}.blocks.{position}.' + _rename_sublayer(rest)


def convert_official_state_dict(
        state_dict: Mapping[str, torch.Tensor],
        target_prefix: str = '') -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename a published SegRefiner ``state_dict`` onto :class:`DenoiseUNet`.

    Args:
        state_dict (Mapping[str, Tensor]): the published ``state_dict``
            (``denoise_model.*`` and ``loss_texture.*`` keys).
        target_prefix (str): prepended to every converted key: ``''`` for a
            bare :class:`DenoiseUNet`, ``'denoiser.'`` for the ``SegRefiner``
            model. Defaults to ''.

    Returns:
        tuple: the converted state dict (same tensors, new names, published
        order) and the sorted list of dropped published keys (the texture
        loss's constant Sobel kernels).

    Raises:
        UnknownOfficialKeyError: a key is neither a network key the mapping
            knows nor a known loss constant. The message lists every such key.
    """
    network_keys = [k[len(OFFICIAL_NETWORK_PREFIX):] for k in state_dict
                    if k.startswith(OFFICIAL_NETWORK_PREFIX)]
    num_res_blocks = _infer_num_res_blocks(network_keys)
    converted = OrderedDict()
    dropped, unknown = [], []
    for key, value in state_dict.items():
        if key.startswith(OFFICIAL_DROPPED_PREFIXES):
            dropped.append(key)
            continue
        if not key.startswith(OFFICIAL_NETWORK_PREFIX):
            unknown.append(key)
            continue
        try:
            new_key = _rename_network_key(key[len(OFFICIAL_NETWORK_PREFIX):], num_res_blocks)
        except KeyError:
            unknown.append(key)
            continue
        converted[target_prefix + new_key] = value
    if unknown:
        raise UnknownOfficialKeyError(
            f'{len(unknown)} key(s) of the published checkpoint cannot be mapped onto '
            f'DenoiseUNet (expected only "{OFFICIAL_NETWORK_PREFIX}*" network keys and the '
            f'texture loss constants {OFFICIAL_DROPPED_PREFIXES}): {unknown}')
    return converted, sorted(dropped)
