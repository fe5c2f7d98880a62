"""The pipeline transform of the coarse-mask synthesis (:mod:`..coarse_mask_synthesis`)."""
import inspect
from dataclasses import fields
from mmcv.transforms import BaseTransform

from mmseg_refiner.registry import TRANSFORMS
from ..coarse_mask_synthesis import CoarseMaskOptions, synthesize_coarse_mask


@TRANSFORMS.register_module()
class GenerateCoarseMask(BaseTransform):
    """Synthesise a coarse mask from the ground truth (online, per sample).

    Required keys: ``key_in`` (``HxW`` mask, non-zero = foreground).
    Added keys: ``key_out`` (``HxW`` uint8 {0, 1}, same size).

    Uses numpy's global RNG, which MMEngine seeds per worker.

    Args:
        key_in (str): key of the ground-truth mask.
        key_out (str): key the coarse mask is written to.
        **options: the fields of
            :class:`~mmseg_refiner.datasets.coarse_mask_synthesis.CoarseMaskOptions`
            (checked when the pipeline is built, not in the first worker).
    """

    def __init__(self, key_in: str = 'gt_mask', key_out: str = 'coarse_mask', **options) -> None:
        self.key_in = key_in
        self.key_out = key_out
        self.options = CoarseMaskOptions(**options)

    def transform(self, results: dict) -> dict:
        sample = results.get('img_path', f'sample {results.get("sample_idx", "?")}')
        if self.key_in not in results:
            raise KeyError(f'{type(self).__name__}: {sample} has no {self.key_in!r}')
        try:
            results[self.key_out] = synthesize_coarse_mask(results[self.key_in], self.options)
        except ValueError as error:
            raise ValueError(
                f'{type(self).__name__}: {self.key_in} of {sample}: {error}') from error
        return results

    def __repr__(self) -> str:
        options = ', '.join(f'{key}={value!r}' for key, value in self.options.as_dict().items())
        return f'{type(self).__name__}(key_in={self.key_in!r}, key_out={self.key_out!r}, {options})'


# The signature shows (and the config check reads) the options' fields instead of ``**options``.
GenerateCoarseMask.__init__.__signature__ = inspect.Signature([
    *list(inspect.signature(GenerateCoarseMask.__init__).parameters.values())[:-1],
    *(inspect.Parameter(item.name, inspect.Parameter.KEYWORD_ONLY, default=item.default)
      for item in fields(CoarseMaskOptions))
])
