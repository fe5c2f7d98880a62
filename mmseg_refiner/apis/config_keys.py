"""One check of a config's keys, run by every tool and the API after ``--cfg-options``.

A misspelled key either ends in a ``TypeError`` deep inside a constructor
(``model.denoiser.model_chanels=8``) or, at the top level, is silently ignored
(``optim_wraper``: the Runner never reads it). :func:`validate_config` refuses
both before anything is built, naming the key and the keys that exist there:

- Top level: the keys ``mmengine.runner.Runner.from_cfg`` reads (and the few
  conventions around it, :data:`CONVENTION_KEYS`). Other top-level names are
  the config file's own variables (``max_iters``, ``train_pipeline``), used
  only while the file is read, so they are allowed in the file unless they look
  like a misspelled Runner key, and refused in ``--cfg-options``, where setting
  them changes nothing.
- Inside a section: every dict with a ``type`` is checked against the
  constructor of the class it names in the section's registry (``model`` ->
  MODELS, hooks -> HOOKS, datasets -> DATASETS, pipelines -> TRANSFORMS, ...),
  where the signature is closed (no ``**kwargs`` that go anywhere but a parent
  class whose signature is closed). Types
  that do not resolve, torch classes (but optimizers) and layer configs
  (``norm_cfg``, ``act_cfg``: built by mmcv helpers that take more keys) are
  left to their builders.
- ``randomness`` and ``env_cfg`` keys, dataloader keys, and seeds
  (``randomness.seed``, ``model.test_cfg.seed``: :func:`check_seed`).
- The ``test_cfg`` of a typed dict whose class has a ``check_test_cfg``
  staticmethod (``SegRefiner``: its keys, mode and precision), wherever the
  dict is (``model``, a chain's ``model.refiner``).

A message names the config file, and adds ``with --cfg-options`` only when the
offending key path was set (or is inside a dict set) by an option.
"""
import difflib
import inspect
import re
import textwrap
import torch
from typing import Iterable, List, Mapping, Optional, Set

from mmseg_refiner.utils.checks import check_seed
from mmseg_refiner.utils.config_file import ConfigSource

#: Top-level keys ``Runner.from_cfg`` reads (mmengine 0.10).
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler', 'val_evaluator',
    'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from', 'resume',
    'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer', 'default_scope',
    'randomness', 'experiment_name'
})
#: Other top-level keys MMEngine or OpenMMLab tools read: ``custom_imports``
#: (``Config.fromfile``), ``model_wrapper_cfg`` (``Runner.wrap_model``),
#: ``find_unused_parameters`` (its default wrapper), ``vis_backends`` (read by
#: ``visualizer`` in the base config).
CONVENTION_KEYS = frozenset(
    {'custom_imports', 'model_wrapper_cfg', 'find_unused_parameters', 'vis_backends'})
KNOWN_TOP_LEVEL_KEYS = RUNNER_KEYS | CONVENTION_KEYS
#: ``randomness`` is ``Runner.set_randomness(**randomness)``.
RANDOMNESS_KEYS = frozenset({'seed', 'diff_rank_seed', 'deterministic'})
#: ``env_cfg`` keys ``Runner.setup_env`` reads.
ENV_CFG_KEYS = frozenset({'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'})
#: Dataloader keys ``Runner.build_dataloader`` takes itself; the rest go to
#: ``torch.utils.data.DataLoader``.
DATALOADER_OWN_KEYS = frozenset(
    {'dataset', 'sampler', 'batch_sampler', 'collate_fn', 'worker_init_fn'})
#: Keys of ``optim_wrapper`` the optimizer-wrapper constructor takes itself.
OPTIM_WRAPPER_OWN_KEYS = frozenset({'type', 'optimizer', 'paramwise_cfg', 'constructor'})
#: Keys a typed dict carries besides the constructor arguments.
BUILD_KEYS = frozenset({'type', '_scope_'})
#: Layer configs built by mmcv's ``build_*_layer`` helpers, which take keys the layer
#: classes do not (``norm_cfg=dict(type='SyncBN', requires_grad=True)``): not checked.
HELPER_BUILT_KEYS = frozenset({'norm_cfg', 'act_cfg', 'conv_cfg', 'upsample_cfg', 'padding_cfg'})
#: Similarity (``difflib`` ratio) from which an unknown top-level key of a
#: config file is taken for a misspelled Runner key.
MISSPELLING_CUTOFF = 0.8


class ConfigKeyError(ValueError):
    """A key of a config (or of ``--cfg-options``) that nothing reads."""


def _close(key: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    matches = difflib.get_close_matches(key, sorted(candidates), n=1, cutoff=cutoff)
    return f'; did you mean {matches[0]!r}?' if matches else ''


def _unknown(where: str, key: str, known: Iterable[str], owner: str = '') -> ConfigKeyError:
    known = sorted(known)
    return ConfigKeyError(f'{where}: unknown key {key!r}{_close(key, known)} '
                          f'({owner or "it"} takes: {", ".join(known)})')


def _forwards_kwargs_to_base_only(init, name: str) -> bool:
    """Whether ``init`` uses its ``**name`` only in one ``super().__init__(..., **name)``."""
    try:
        source = textwrap.dedent(inspect.getsource(init))
    except (OSError, TypeError):
        return False
    uses = re.findall(rf'\b{name}\b', source)
    forwarded = re.findall(rf'super\([^)]*\)\.__init__\([^)]*\*\*{name}\b', source)
    return len(forwarded) == 1 and len(uses) == 2  # the signature and that call


def _accepted_keys(cls) -> Optional[Set[str]]:
    """Constructor argument names of ``cls``, ``None`` when it takes any keyword.

    ``**kwargs`` that a class only passes on to ``super().__init__`` are
    followed up the MRO (it accepts its base's arguments); ``**kwargs`` used in
    any other way (e.g. passed to a wrapped transform) accept anything.
    ``torch.nn.Module`` and ``object`` take none.
    """
    keys: Set[str] = set()
    for klass in inspect.getmro(cls):
        if klass in (object, torch.nn.Module):
            return keys
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = list(inspect.signature(init).parameters.values())
        except (TypeError, ValueError):
            return None
        keys |= {
            p.name
            for p in params if p.name != 'self' and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
        var_keyword = [p.name for p in params if p.kind == p.VAR_KEYWORD]
        if not var_keyword:
            return keys
        if not _forwards_kwargs_to_base_only(init, var_keyword[0]):
            return None
    return None


def _resolve(registry, type_, scope: Optional[str]):
    """The class a ``type`` names in ``registry``, or ``None``."""
    if inspect.isclass(type_):
        return type_
    if not isinstance(type_, str):
        return None
    name = type_ if '.' in type_ or scope is None else f'{scope}.{type_}'
    try:
        found = registry.get(name)
    except Exception:  # an unimportable scope: the builder will say so
        return None
    return found if inspect.isclass(found) else None


class _Walker:
    """Checks typed dicts of one config against their constructors."""

    def __init__(self, source: ConfigSource) -> None:
        self.source = source
        from mmseg_refiner import registry
        self.registries = registry

    def where(self, path: str, key: str) -> str:
        """``<source>: <path>`` for a message about ``key`` of the dict at ``path``."""
        return f'{self.source(f"{path}.{key}")}: {path}'

    def typed(self,
              cfg,
              path: str,
              registry,
              scope: Optional[str] = None,
              extra: Iterable[str] = ()) -> None:
        """Check ``cfg`` (a dict, or a list of dicts) and the typed dicts inside it."""
        if isinstance(cfg, (list, tuple)):
            for index, item in enumerate(cfg):
                self.typed(item, f'{path}[{index}]', registry, scope, extra)
            return
        if not isinstance(cfg, Mapping):
            return
        scope = cfg.get('_scope_', scope)
        cls = _resolve(registry, cfg.get('type'), scope) if 'type' in cfg else None
        if cls is not None and cls.__module__.startswith('torch.') and \
                registry is not self.registries.OPTIMIZERS:
            cls = None  # torch layers (norm_cfg, act_cfg) are built by helpers taking more keys
        if cls is not None:
            accepted = _accepted_keys(cls)
            if accepted is not None:
                accepted = accepted | BUILD_KEYS | set(extra)
                for key in cfg:
                    if key not in accepted:
                        raise _unknown(
                            self.where(path, key), key, accepted - BUILD_KEYS, cls.__name__)
            self.test_cfg(cls, cfg, path)
        for key, value in cfg.items():
            if key in HELPER_BUILT_KEYS:
                continue
            if isinstance(value, (Mapping, list, tuple)):
                child = self.registries.TRANSFORMS if key in ('pipeline', 'transforms') \
                    else registry
                self.typed(value, f'{path}.{key}', child, scope)

    def dataloader(self, cfg, path: str) -> None:
        if not isinstance(cfg, Mapping):
            return
        accepted = set(inspect.signature(torch.utils.data.DataLoader).parameters)
        accepted |= DATALOADER_OWN_KEYS
        accepted.discard('self')
        for key in cfg:
            if key not in accepted:
                raise _unknown(self.where(path, key), key, accepted, 'a dataloader')
        self.typed(cfg.get('dataset'), f'{path}.dataset', self.registries.DATASETS)
        self.typed(cfg.get('sampler'), f'{path}.sampler', self.registries.DATA_SAMPLERS)

    def plain(self, cfg, path: str, known: Iterable[str]) -> None:
        if isinstance(cfg, Mapping):
            for key in cfg:
                if key not in known:
                    raise _unknown(self.where(path, key), key, known)

    def test_cfg(self, cls, cfg: Mapping, path: str) -> None:
        """Run ``cls.check_test_cfg`` (if the class has one) on ``cfg['test_cfg']``."""
        check = getattr(cls, 'check_test_cfg', None)
        test_cfg = cfg.get('test_cfg')
        if check is None or not isinstance(test_cfg, Mapping):
            return
        try:
            check(test_cfg)
        except ValueError as error:
            raise ConfigKeyError(f'{self.where(path, "test_cfg")}.test_cfg: {error}') from error


def _check_top_level(cfg: Mapping, source: ConfigSource) -> None:
    for option in source.option_keys:
        top = option.split('.')[0]
        if top not in KNOWN_TOP_LEVEL_KEYS:
            raise ConfigKeyError(
                f'--cfg-options {option}: {top!r} is not a key the Runner or the tools read'
                f'{_close(top, KNOWN_TOP_LEVEL_KEYS)} (a variable of the config file, such as '
                f'max_iters, is used only while the file is read, so setting it here changes '
                f'nothing: set the key that uses it, e.g. train_cfg.max_iters). Top-level keys '
                f'of this config: {", ".join(sorted(k for k in cfg if k in KNOWN_TOP_LEVEL_KEYS))}')
    for key in cfg:
        if key in KNOWN_TOP_LEVEL_KEYS:
            continue
        match = difflib.get_close_matches(
            key, sorted(KNOWN_TOP_LEVEL_KEYS), n=1, cutoff=MISSPELLING_CUTOFF)
        if match:
            raise ConfigKeyError(f'{source(key)}: top-level key {key!r} is not read by the '
                                 f'Runner; did you mean {match[0]!r}? (a misspelled key is '
                                 f'silently ignored)')


def validate_config(cfg: Mapping,
                    cfg_options: Optional[Mapping] = None,
                    sections: Optional[Iterable[str]] = None) -> None:
    """Refuse unknown keys in a config, after ``--cfg-options`` were merged into it.

    Args:
        cfg: the merged config (an ``mmengine.Config`` or a dict).
        cfg_options: the ``--cfg-options`` that were merged (their top-level
            keys must be keys something reads).
        sections: top-level sections to check inside (default: all); the API
            checks only ``model``.

    Raises:
        ConfigKeyError: naming the config file (and ``--cfg-options`` when an
            option set the key), the key path, the unknown key and the keys that
            exist there.
    """
    from mmengine.registry import LOG_PROCESSORS
    source = ConfigSource(cfg, cfg_options)
    _check_top_level(cfg, source)
    walker = _Walker(source)
    reg = walker.registries
    wanted = set(KNOWN_TOP_LEVEL_KEYS if sections is None else sections)
    checks = {
        'model':
        lambda v: walker.typed(v, 'model', reg.MODELS),
        'data_preprocessor':
        lambda v: walker.typed(v, 'data_preprocessor', reg.MODELS),
        'default_hooks':
        lambda v: [
            walker.typed(h, f'default_hooks.{k}', reg.HOOKS, extra=['priority'])
            for k, h in v.items()
        ],
        'custom_hooks':
        lambda v: walker.typed(v, 'custom_hooks', reg.HOOKS, extra=['priority']),
        'train_dataloader':
        lambda v: walker.dataloader(v, 'train_dataloader'),
        'val_dataloader':
        lambda v: walker.dataloader(v, 'val_dataloader'),
        'test_dataloader':
        lambda v: walker.dataloader(v, 'test_dataloader'),
        'val_evaluator':
        lambda v: walker.typed(v, 'val_evaluator', reg.METRICS),
        'test_evaluator':
        lambda v: walker.typed(v, 'test_evaluator', reg.METRICS),
        'train_cfg':
        lambda v: walker.typed(v, 'train_cfg', reg.LOOPS),
        'val_cfg':
        lambda v: walker.typed(v, 'val_cfg', reg.LOOPS),
        'test_cfg':
        lambda v: walker.typed(v, 'test_cfg', reg.LOOPS),
        'optim_wrapper':
        lambda v:
        (walker.typed({k: x
                       for k, x in v.items() if k not in ('optimizer', 'paramwise_cfg')},
                      'optim_wrapper',
                      reg.OPTIM_WRAPPERS,
                      extra=OPTIM_WRAPPER_OWN_KEYS),
         walker.typed(v.get('optimizer'), 'optim_wrapper.optimizer', reg.OPTIMIZERS)),
        'param_scheduler':
        lambda v: walker.typed(
            v, 'param_scheduler', reg.PARAM_SCHEDULERS, extra=['convert_to_iter_based']),
        'visualizer':
        lambda v: walker.typed(v, 'visualizer', reg.VISUALIZERS),
        'log_processor':
        lambda v: walker.typed(v, 'log_processor', LOG_PROCESSORS),
        'randomness':
        lambda v: walker.plain(v, 'randomness', RANDOMNESS_KEYS),
        'env_cfg':
        lambda v: walker.plain(v, 'env_cfg', ENV_CFG_KEYS),
    }
    for key, check in checks.items():
        if key in wanted and isinstance(cfg.get(key), (Mapping, list, tuple)):
            check(cfg[key])
    _check_seeds(cfg, source, wanted)


def _check_seeds(cfg: Mapping, source: ConfigSource, sections: Set[str]) -> None:
    seeds: List = []
    if 'randomness' in sections and isinstance(cfg.get('randomness'), Mapping):
        seeds.append(('randomness.seed', cfg['randomness'].get('seed')))
    model = cfg.get('model')
    if 'model' in sections and isinstance(model, Mapping) and isinstance(
            model.get('test_cfg'), Mapping):
        seeds.append(('model.test_cfg.seed', model['test_cfg'].get('seed')))
    for name, seed in seeds:
        check_seed(seed, f'{source(name)}: {name}')
