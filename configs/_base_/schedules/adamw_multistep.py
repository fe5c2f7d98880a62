# The paper's optimisation, shared by every training recipe: AdamW (lr 4e-4 for 64 samples
# per iteration, no weight decay), iteration-based training, the lr halved at each
# milestone. A schedule sets the length and the milestones:
#   param_scheduler = [dict(_base_.param_scheduler[0], end=max_iters, milestones=...)]
#   train_cfg = dict(max_iters=max_iters)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8))

param_scheduler = [dict(type='MultiStepLR', by_epoch=False, begin=0, gamma=0.5)]

# Training only: the paper's evaluation runs on separate test configs, so there is
# no val loop (no val_dataloader / val_cfg / val_evaluator).
train_cfg = dict(type='IterBasedTrainLoop')
