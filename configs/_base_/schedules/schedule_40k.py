# SegRefiner HR fine-tuning schedule (paper): the LR recipe's AdamW (lr 4e-4, no weight
# decay); 40k iterations, lr x0.5 at 20k and 35k. 8 GPUs x 8 samples per iteration.
_base_ = './schedule_120k.py'

max_iters = 40000
lr_milestones = [20000, 35000]

param_scheduler = [dict(_base_.param_scheduler[0], end=max_iters, milestones=lr_milestones)]
train_cfg = dict(max_iters=max_iters)
