"""The paper's training recipes with a tiny network at 64x64, trained for two iterations
through the Runner."""
import numpy as np
from mmengine.runner import Runner

#: A denoiser small enough to train at 64x64 in seconds.
TINY_64_DENOISER = dict(
    model_channels=8,
    channel_mult=(1, 1, 1, 1),
    num_res_blocks=1,
    attention_strides=(8, ),
    num_heads=1,
    norm_groups=4)


def _set_resize_scale(node, size):
    """Set every RefineResize of a (nested) pipeline config to ``size`` x ``size``."""
    if isinstance(node, dict):
        if node.get('type') == 'RefineResize':
            node['scale'] = (size, size)
        for value in node.values():
            _set_resize_scale(value, size)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _set_resize_scale(value, size)


def shrink_recipe(cfg) -> None:
    """The tiny denoiser at 64x64, with the training and validation pipelines resizing to
    64x64."""
    cfg.model.denoiser.update(TINY_64_DENOISER)
    cfg.model.model_size = 64
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        _set_resize_scale(loader.dataset.pipeline, 64)


def train_two_iterations(cfg, work_dir: str) -> None:
    """Train ``cfg`` for two iterations in ``work_dir``, validating at the end; the losses
    must be finite and the validation's ``mask/`` IoU and mBA figures in [0, 1]."""
    cfg.train_cfg.max_iters = 2
    cfg.param_scheduler[0].end = 2
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = work_dir
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss_mask').data[0]
    assert len(losses) == 2 and np.isfinite(losses).all()
    for key in ('iou', 'mba', 'coarse_iou', 'coarse_mba'):
        key = f'val/mask/{key}'
        assert 0.0 <= runner.message_hub.get_scalar(key).current() <= 1.0, key
