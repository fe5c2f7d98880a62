# SegRefiner LR schedule (paper): AdamW, lr 4e-4, no weight decay; 120k iterations,
# lr x0.5 at 80k and 100k. The paper trains with 8 GPUs x 8 samples (64 per iteration).
max_iters = 120000
lr_milestones = [80000, 100000]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8))

param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=max_iters,
        milestones=lr_milestones,
        gamma=0.5)
]

# Training only: the paper's evaluation runs on separate test configs, so there is
# no val loop (no val_dataloader / val_cfg / val_evaluator).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)

# `--auto-scale-lr`-style scaling stays off; the lr above is for 64 samples per iteration.
auto_scale_lr = dict(enable=False, base_batch_size=64)
