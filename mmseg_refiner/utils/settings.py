"""Type and range checks of numeric settings, run when a module is built.

A refiner, the diffusion, a metric, a dataset or a transform calls
:func:`check_int` / :func:`check_float` on each numeric argument in its
``__init__``, so ``--cfg-options model.instance_refiner.refined_threshold=nan``
(or ``1.5``, ``-1``, ``'abc'``) is refused when the model is built, with one
error naming the module and the key, instead of empty masks or a traceback
deep inside the run.
"""
import math
import numbers
from typing import Mapping, Optional, Sequence


class SettingError(ValueError):
    """A setting of the wrong type or out of its range; names the module and the key."""


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and \
        type(value).__name__ != 'bool_'


def _describe(value) -> str:
    return f'{value!r} ({type(value).__name__})' if isinstance(value, str) else repr(value)


def _range_text(low, high, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f'in {"(" if low_open else "["}{low}, {high}{")" if high_open else "]"}'
    if low is not None:
        return f'{">" if low_open else ">="} {low}'
    if high is not None:
        return f'{"<" if high_open else "<="} {high}'
    return 'finite'


def _check_range(owner, key, value, kind, low, high, low_open, high_open):
    bad = (low is not None and (value <= low if low_open else value < low)) or \
        (high is not None and (value >= high if high_open else value > high))
    if bad:
        raise SettingError(f'{owner}: {key} must be {kind} '
                           f'{_range_text(low, high, low_open, high_open)}, got {value!r}')


def check_int(owner: str,
              key: str,
              value,
              low: Optional[int] = None,
              high: Optional[int] = None,
              allow_none: bool = False) -> Optional[int]:
    """``value`` as an ``int`` if it is an integer in ``[low, high]`` (bounds optional).

    Raises:
        SettingError: ``'{owner}: {key} must be an integer >= 1, got 'abc' (str)'``.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 32.0 from a computed config
    if not _is_int(value):
        raise SettingError(f'{owner}: {key} must be an integer '
                           f'{_range_text(low, high, False, False)}, got {_describe(value)}')
    value = int(value)
    _check_range(owner, key, value, 'an integer', low, high, False, False)
    return value


def check_float(owner: str,
                key: str,
                value,
                low: Optional[float] = None,
                high: Optional[float] = None,
                low_open: bool = False,
                high_open: bool = False,
                allow_none: bool = False) -> Optional[float]:
    """``value`` as a ``float`` if it is a finite number in the range (bounds optional,
    closed unless ``low_open`` / ``high_open``); NaN and Inf are refused.

    Raises:
        SettingError: ``'{owner}: {key} must be a number in [0, 1], got nan'``.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            type(value).__name__ == 'bool_':
        raise SettingError(f'{owner}: {key} must be a number '
                           f'{_range_text(low, high, low_open, high_open)}, got '
                           f'{_describe(value)}')
    value = float(value)
    if not math.isfinite(value):
        raise SettingError(f'{owner}: {key} must be a finite number '
                           f'{_range_text(low, high, low_open, high_open)}, got {value!r}')
    _check_range(owner, key, value, 'a number', low, high, low_open, high_open)
    return value


def check_ints(owner: str,
               key: str,
               values: Sequence,
               low: Optional[int] = None,
               high: Optional[int] = None) -> tuple:
    """A sequence of integers, each in ``[low, high]``, as a tuple."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise SettingError(f'{owner}: {key} must be a sequence of integers, got '
                           f'{_describe(values)}')
    return tuple(check_int(owner, f'{key}[{i}]', v, low, high) for i, v in enumerate(values))


def with_defaults(cfg: Optional[Mapping], defaults: dict, what: str,
                  example: str) -> Optional[dict]:
    """A dict setting (``None`` when off) with ``defaults`` filled in.

    Raises:
        ValueError: ``cfg`` is not a dict, or names a key ``defaults`` lacks
            (naming ``what``, the setting's key path).
    """
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping):
        raise ValueError(f'{what} must be None or a dict such as {example}, got {cfg!r}')
    unknown = sorted(set(cfg) - set(defaults))
    if unknown:
        raise ValueError(f'{what}: unknown key {unknown[0]!r} (it takes: '
                         f'{", ".join(defaults)})')
    return {**defaults, **cfg}
