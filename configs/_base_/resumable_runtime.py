# default_runtime.py for the training recipes: checkpoints that a killed run continues
# from with `--resume` (weights, optimizer and LR-scheduler state), the last two kept.
# A recipe sets how often: default_hooks = dict(checkpoint=dict(interval=...)).
_base_ = './default_runtime.py'

default_hooks = dict(
    checkpoint=dict(save_optimizer=True, save_param_scheduler=True, max_keep_ckpts=2))
