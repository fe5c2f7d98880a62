"""Building a wrapped upstream (mmdet / mmseg) model and loading its weights."""
import copy

from mmengine.model.weight_init import PretrainedInit
from torch import nn

from mmseg_refiner.registry import MODELS


def build_in_scope(cfg: dict, scope: str) -> nn.Module:
    """Build a model config in ``scope`` unless the config names its own ``_scope_``."""
    cfg = copy.deepcopy(dict(cfg))
    cfg.setdefault('_scope_', scope)
    return MODELS.build(cfg)


def build_or_keep(config, scope: str) -> nn.Module:
    """A model as given, or built from its config in ``scope`` unless it names one."""
    return config if isinstance(config, nn.Module) else build_in_scope(config, scope)


def load_pretrained(module: nn.Module, owner: str, name: str) -> None:
    """Load ``module.init_cfg = dict(type='Pretrained', checkpoint=...)`` now.

    MMEngine's ``Runner.test`` never calls ``init_weights``, so a sub-model's
    own checkpoint would otherwise stay unloaded. Only the checkpoint is
    loaded (MMEngine's ``PretrainedInit``: local path or URL, optional
    ``prefix``, ``strict=False``); children are not re-initialized, so a
    backbone's ``torchvision://`` init is never downloaded. The module is then
    marked initialized, so a later ``init_weights`` leaves it alone.

    Args:
        module: the sub-model whose ``init_cfg`` is read.
        owner: the wrapper's class name, for the error message.
        name: the sub-model's attribute / config key (``detector``, ``refiner``...).
    """
    init_cfg = module.init_cfg
    if not isinstance(init_cfg, dict) or init_cfg.get('type') != 'Pretrained':
        return
    args = {key: value for key, value in init_cfg.items() if key != 'type'}
    args.setdefault('map_location', 'cpu')
    try:
        PretrainedInit(**args)(module)
    except FileNotFoundError as error:
        raise FileNotFoundError(f'{owner}: the {name} checkpoint {args["checkpoint"]} '
                                f'does not exist (set model.{name}.init_cfg.checkpoint)') from error
    module._is_init = True
