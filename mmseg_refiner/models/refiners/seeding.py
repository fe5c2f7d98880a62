"""Seeding the reverse diffusion per sample, never per batch.

Every random draw of a refinement comes from a generator seeded from the run's
seed, the **sample's name** and the **mask's index** in the sample, so a mask
is refined the same way whatever batch it is in, whatever ran before it and
however many processes share the work. The sample's name is the file name of
its image (``img_path``; the folder is left out, so the same image gives the
same result whether named by a relative or an absolute path), else its
``img_id``, else its ``sample_idx``.
"""
import hashlib
import os.path as osp
import torch
from typing import Optional, Sequence, Union

Part = Union[int, str]


def derive_seed(*parts: Part) -> int:
    """A 63-bit seed mixed from ``parts`` (sha256 of their text), e.g. ``(seed, name, index)``."""
    text = '\x1f'.join(f'{type(part).__name__}:{part}' for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode('utf-8')).digest()[:8], 'little') >> 1


def seed_name(metainfo: dict) -> str:
    """The name a sample is seeded by (module docstring)."""
    if metainfo.get('img_path') is not None:
        return osp.basename(str(metainfo['img_path']))
    for key in ('img_id', 'sample_idx'):
        if metainfo.get(key) is not None:
            return f'{key}={metainfo[key]}'
    return ''


def sample_seed(seed: Optional[int], name: str) -> Optional[int]:
    """Seed of the sample named ``name``; None (unseeded) when ``seed`` is None."""
    return None if seed is None else derive_seed(int(seed), name)


def mask_seed(seed: Optional[int], index: int) -> Optional[int]:
    """Seed of mask ``index`` of a sample whose seed is ``seed`` (None stays None)."""
    return None if seed is None else derive_seed(seed, int(index))


def make_generator(seed: Optional[int], device: Union[str,
                                                      torch.device]) -> Optional[torch.Generator]:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``; None when ``seed`` is None."""
    if seed is None:
        return None
    return torch.Generator(device=device).manual_seed(int(seed))


def make_generators(seeds: Sequence[Optional[int]], device: Union[str,
                                                                  torch.device]) -> Optional[list]:
    """One generator per row of a batch, or None when every seed is None."""
    if all(seed is None for seed in seeds):
        return None
    if any(seed is None for seed in seeds):
        raise ValueError('a batch mixes seeded and unseeded rows')
    return [make_generator(seed, device) for seed in seeds]
