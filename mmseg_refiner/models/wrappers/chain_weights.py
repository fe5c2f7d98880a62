"""Loading the weights of a chain's two parts.

A chain (an upstream mmdet / mmseg model followed by a refiner) has two
checkpoints, named by two settings of the wrapper's config, e.g.
``model.detector_checkpoint`` and ``model.refiner_checkpoint`` (local paths or
URLs). :class:`ChainWeights` reads them when the weights are needed, not when
the config is parsed or the model is built: a checkpoint given to the whole
wrapper (``load_from``, ``tools/test.py CONFIG CHECKPOINT``,
``init_detector(config, CHECKPOINT)``, an Inferencer's ``weights``) replaces
the settings of the parts it holds, so a combined checkpoint never triggers a
download of the upstream weights.
"""
import logging
from functools import partial
from mmengine.logging import print_log
from mmengine.runner import load_checkpoint
from torch import nn
from typing import Dict, Optional

from mmseg_refiner.utils.safe_checkpoint import SIZE_MISMATCH, CheckpointError, listing

#: Keys that identify a checkpoint of the refiner alone: our SegRefiner's
#: (``denoiser.*``) and the authors' published layout (``denoise_model.*``).
REFINER_KEY_PREFIXES = ('denoiser.', 'denoise_model.')

#: What to do when a checkpoint does not fit the refiner / the upstream model.
FIT_HINTS = ("Give the refiner the config its checkpoint was trained with (the demo checkpoint "
             "demo/segrefiner_demo.pth: demo_lr_refiner / demo_hr_refiner of "
             "mmseg_refiner.configs.segrefiner_refiners; the authors' LR / HR checkpoints: "
             "lr_refiner / hr_refiner)",
             'Give the upstream model the config its checkpoint was trained with')


def _load_error_summary(error: RuntimeError) -> str:
    """MMEngine's strict-load message (a line per key of another size, a line of missing and
    one of unexpected keys) in one line, keys capped."""
    text = str(error)
    mismatched = [
        f'{key} ({found}) vs ({expected})' for key, found, expected in SIZE_MISMATCH.findall(text)
    ]
    parts = [
        f'{len(mismatched)} keys of another size (checkpoint vs model): '
        f'{listing(mismatched)}'
    ] if mismatched else []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        label, _, keys = line.partition(': ')
        if label.startswith(('missing keys', 'unexpected key')):
            keys = keys.split(', ') if keys else []
            parts.append(f'{label}: {listing(keys)}')
    return '; '.join(parts) or text.strip().splitlines()[-1]


class ChainWeights:
    """The checkpoints of a wrapper's parts, loaded once, when needed.

    Args:
        wrapper: the wrapper module; its parts are its attributes ``upstream``
            and ``'refiner'``.
        upstream (str): attribute name of the upstream model (``'detector'``,
            ``'segmentor'``).
        checkpoints (dict): part name -> checkpoint (path, URL or None), the
            wrapper's ``<part>_checkpoint`` settings.
        allow_untrained_refiner (bool): run the refiner with the weights it was
            built with when it has no checkpoint (tests); otherwise that is an
            error naming the setting to fill.
    """

    def __init__(self,
                 wrapper: nn.Module,
                 upstream: str,
                 checkpoints: Dict[str, Optional[str]],
                 allow_untrained_refiner: bool = False) -> None:
        self.owner = type(wrapper).__name__
        self.upstream = upstream
        self.parts = (upstream, 'refiner')
        self.checkpoints = dict(checkpoints)
        self.allow_untrained_refiner = allow_untrained_refiner
        #: parts whose weights are in place (from a checkpoint given to the wrapper or
        #: from their own setting)
        self.loaded = set()
        self.ready = False
        #: ``meta`` of the upstream checkpoint (class names for a combined checkpoint)
        self.upstream_meta: dict = {}
        wrapper._register_load_state_dict_pre_hook(self._route_wrapper_checkpoint)
        wrapper.register_load_state_dict_post_hook(self._forgive_parts_with_settings)
        for part in self.parts:
            getattr(wrapper,
                    part)._register_load_state_dict_pre_hook(partial(self._mark_loaded, part))
        self._wrapper = wrapper

    def _route_wrapper_checkpoint(self, state_dict, prefix, *args) -> None:
        """A checkpoint of one part given to the whole wrapper loads into that part.

        Keys already prefixed with a part's name (a combined checkpoint) stay;
        otherwise a refiner checkpoint (ours or the published layout) is
        prefixed with ``refiner.`` and any other one with the upstream name.
        """
        keys = [key for key in state_dict if key.startswith(prefix)]
        if not keys or any(key[len(prefix):].startswith(tuple(f'{p}.' for p in self.parts))
                           for key in keys):
            return
        local = [key[len(prefix):] for key in keys]
        part = 'refiner' if any(k.startswith(REFINER_KEY_PREFIXES) for k in local) else \
            self.upstream
        for key, name in zip(keys, local):
            state_dict[f'{prefix}{part}.{name}'] = state_dict.pop(key)
        other = self.parts[1] if part == self.parts[0] else self.parts[0]
        print_log(
            f'{self.owner}: the checkpoint holds the {part} only; the {other} comes from its '
            f'setting model.{other}_checkpoint',
            logger='current')

    def _mark_loaded(self, part: str, state_dict, prefix, *args) -> None:
        if any(key.startswith(prefix) for key in state_dict):
            self.loaded.add(part)

    def _forgive_parts_with_settings(self, module, incompatible_keys) -> None:
        """Keys of a part the checkpoint did not hold are not reported missing: the part
        loads from its setting later, or :meth:`load` reports it has none."""
        absent = [part for part in self.parts if part not in self.loaded]
        incompatible_keys.missing_keys[:] = [
            key for key in incompatible_keys.missing_keys
            if not key.startswith(tuple(f'{part}.' for part in absent))
        ]

    def load(self) -> None:
        """Load every part not loaded yet from its setting (once); check the refiner has weights.

        A refiner with neither loaded weights nor a setting is refused before any
        part is read (the upstream checkpoint may be a download).
        """
        if self.ready:
            return
        if 'refiner' not in self.loaded and self.checkpoints.get('refiner') is None and \
                not self.allow_untrained_refiner:
            raise ValueError(
                f'{self.owner}: the refiner has no trained weights. Set model.refiner_checkpoint '
                f'to a SegRefiner checkpoint (a path or URL; the authors\' published one is '
                f'accepted as is), e.g. --cfg-options model.refiner_checkpoint=segrefiner_lr.pth, '
                f'or give it as the checkpoint of tools/test.py; '
                f'model.allow_untrained_refiner=True runs it untrained (tests only)')
        for part in self.parts:
            checkpoint = self.checkpoints.get(part)
            if part in self.loaded or checkpoint is None:
                continue
            try:
                loaded = load_checkpoint(
                    getattr(self._wrapper, part),
                    checkpoint,
                    map_location='cpu',
                    strict=part == 'refiner',
                    logger='current')
            except FileNotFoundError as error:
                raise FileNotFoundError(
                    f'{self.owner}: the {part} checkpoint {checkpoint} does not exist (set '
                    f'model.{part}_checkpoint to a path or URL)') from error
            except OSError as error:  # an unreachable URL (URLError) or an unreadable file
                raise OSError(f'{self.owner}: the {part} checkpoint {checkpoint} could not be '
                              f'read ({error}); set model.{part}_checkpoint to a reachable path '
                              f'or URL, or download it first') from error
            except RuntimeError as error:  # keys that do not fit (strict), a corrupt file
                raise CheckpointError(
                    f'{self.owner}: the {part} checkpoint {checkpoint} does not fit the {part} '
                    f'of the config: {_load_error_summary(error)}. {FIT_HINTS[part != "refiner"]}'
                ) from error
            if part == self.upstream and isinstance(loaded, dict):
                self.upstream_meta = dict(loaded.get('meta') or {})
            self.loaded.add(part)
        if self.upstream not in self.loaded:
            print_log(
                f'{self.owner}: model.{self.upstream}_checkpoint is not set; the {self.upstream} '
                f'runs with the weights it was built with',
                logger='current',
                level=logging.WARNING)
        self.ready = True
