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
import os
import os.path as osp
import re
import torch
from collections import OrderedDict
from mmengine.logging import print_log
from typing import Dict, List, Mapping, Tuple

from mmseg_refiner.utils import load_checkpoint_file
from mmseg_refiner.version import __version__

OFFICIAL_NETWORK_PREFIX = 'denoise_model.'
#: Published keys that are constants of a loss; the converter drops them.
OFFICIAL_DROPPED_PREFIXES = ('loss_texture.', )

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


class UnknownOfficialKeyError(KeyError, ValueError):
    """A published checkpoint holds keys the converter cannot place.

    Also a ``ValueError`` (a bad input file), which the tools report as ``error: ...``.
    """

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
    downsampling entry, whose parameters are named ``op``. Without any
    ``input_blocks`` key the value does not matter; 0 is returned.
    """
    indices = {}
    for key in network_keys:
        match = _BLOCK_KEY.match(key)
        if match and match.group(1) == 'input_blocks':
            indices.setdefault(int(match.group(2)), set()).add(match.group(4).split('.')[0])
    if not indices:
        return 0
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
            if not rest.startswith('op.'):
                raise KeyError(key)
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
            knows nor a known loss constant, or there is no network key at
            all. The message lists every unmapped key.
    """
    network_keys = [
        k[len(OFFICIAL_NETWORK_PREFIX):] for k in state_dict
        if k.startswith(OFFICIAL_NETWORK_PREFIX)
    ]
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
    if unknown or not converted:
        raise UnknownOfficialKeyError(
            f'{len(unknown)} key(s) of the published checkpoint cannot be mapped onto '
            f'DenoiseUNet and {len(converted)} can (expected "{OFFICIAL_NETWORK_PREFIX}*" '
            f'network keys and the texture loss constants {OFFICIAL_DROPPED_PREFIXES}); '
            f'unmapped: {unknown}')
    return converted, sorted(dropped)


def convert_official_keys_on_load(state_dict: dict, prefix: str, *args) -> None:
    """``load_state_dict`` pre-hook of ``SegRefiner``: a published checkpoint loads as is.

    Whatever loads weights into a ``SegRefiner`` (or a model holding one:
    ``load_from``, ``init_cfg``, ``init_refiner``, a chain's
    ``refiner_checkpoint``), keys of the published layout under ``prefix``
    (``<prefix>denoise_model.*``, ``<prefix>loss_texture.*``) are renamed in
    place with :func:`convert_official_state_dict` onto ``<prefix>denoiser.*``
    before the model reads them, and a log line says so. Other state dicts
    pass untouched.
    """
    if not any(key.startswith(prefix + OFFICIAL_NETWORK_PREFIX) for key in state_dict):
        return
    published = OrderedDict((key[len(prefix):], state_dict.pop(key))
                            for key in [key for key in state_dict if key.startswith(prefix)])
    converted, dropped = convert_official_state_dict(published, prefix + 'denoiser.')
    state_dict.update(converted)
    print_log(
        f'SegRefiner: the checkpoint has the published (mmdet-2.x) layout; converted '
        f'{len(converted)} tensors onto DenoiseUNet on load (dropped the texture loss '
        f'constants {dropped}). tools/model_converters/convert_official_checkpoint.py writes '
        f'the converted file once.',
        logger='current')


def convert_official_checkpoint(src: str, dst: str, target_prefix: str = 'denoiser.') -> dict:
    """Convert a published checkpoint file into an MMEngine checkpoint file.

    ``src`` is opened with ``torch.load(weights_only=True)`` (through
    :func:`mmseg_refiner.utils.load_checkpoint_file`); its ``state_dict`` (or the
    file itself when it is a bare state dict) is renamed with
    :func:`convert_official_state_dict`. The published ``meta`` and
    ``optimizer`` are not carried over. ``dst`` receives
    ``{'state_dict': ..., 'meta': ...}``, loadable by the ``SegRefiner`` model
    (``load_from``, ``init_cfg=dict(type='Pretrained', ...)``) with no missing
    and no unexpected keys.

    Args:
        src (str): the published checkpoint (``.pth``).
        dst (str): where to write the converted checkpoint; parent directories
            are created.
        target_prefix (str): prefix of the network in the target model.
            Defaults to 'denoiser.' (``SegRefiner.denoiser``).

    Returns:
        dict: the ``meta`` written to ``dst`` (source file, number of converted
        tensors, dropped keys).

    Raises:
        ValueError: ``src`` holds no state dict.
        UnknownOfficialKeyError: ``src`` holds keys the mapping cannot place;
            the message names ``src`` and the keys.
    """
    checkpoint = load_checkpoint_file(src)
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, Mapping) or not all(
            torch.is_tensor(v) for v in state_dict.values()):
        raise ValueError(f'{src}: expected a checkpoint with a "state_dict" of tensors '
                         f'(or a bare state dict), got {type(checkpoint).__name__}')
    try:
        converted, dropped = convert_official_state_dict(state_dict, target_prefix)
    except UnknownOfficialKeyError as err:
        raise UnknownOfficialKeyError(f'{src}: {err}') from None
    meta = dict(
        converted_from=osp.basename(src),
        converter='mmseg_refiner.models.denoisers.convert_official_checkpoint',
        mmseg_refiner_version=__version__,
        num_tensors=len(converted),
        dropped_keys=dropped)
    dst_dir = osp.dirname(osp.abspath(dst))
    os.makedirs(dst_dir, exist_ok=True)
    torch.save({'state_dict': converted, 'meta': meta}, dst)
    return meta
