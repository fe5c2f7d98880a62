# SegRefiner LR schedule (paper): AdamW, lr 4e-4, no weight decay; 120k iterations,
# lr x0.5 at 80k and 100k. The paper trains with 8 GPUs x 8 samples (64 per iteration).
_base_ = './adamw_multistep.py'

max_iters = 120000
lr_milestones = [80000, 100000]

param_scheduler = [dict(_base_.param_scheduler[0], end=max_iters, milestones=lr_milestones)]
train_cfg = dict(max_iters=max_iters)

# `--auto-scale-lr`-style scaling stays off; the lr above is for 64 samples per iteration.
auto_scale_lr = dict(enable=False, base_batch_size=64)
