# SegRefiner LR model (paper): trained on LVIS v1 train, 8 GPUs x 8 samples, 120k iterations.
#   tools/dist_train.sh configs/segrefiner/segrefiner_unet-128_8xb8-120k_lvis-256.py 8
_base_ = [
    '../_base_/models/segrefiner_unet-128.py',
    '../_base_/datasets/lvis_refine.py',
    '../_base_/schedules/schedule_120k.py',
    '../_base_/resumable_runtime.py',
]

# Resumable checkpoints (weights, optimizer and LR-scheduler state, ~1.4 GB) every 500
# iterations, the last two kept, so a killed run continues with `--resume` and loses a few
# minutes. Estimate (not measured on a GPU): a 256 px forward costs ~498 GFLOP, so an
# iteration (8 crops per GPU, forward + backward ~3x) ~12 TFLOP per GPU, ~0.1 s at a
# sustained 100 TFLOP/s (bf16, A100 class) and ~0.5 s at 25 TFLOP/s: 500 iterations are
# ~1-4 minutes.
default_hooks = dict(checkpoint=dict(interval=500))
# Weights-only milestones every 20k iterations, all kept (milestone_iter_20000 ...
# milestone_iter_120000, ~0.5 GB each): milestone_iter_80000.pth initialises the HR model.
# Priority LOW runs this hook before the resumable one (VERY_LOW), so `last_checkpoint`,
# which `--resume` reads, always names a resumable checkpoint.
custom_hooks = [
    dict(
        type='CheckpointHook',
        interval=20000,
        by_epoch=False,
        filename_tmpl='milestone_iter_{}.pth',
        save_optimizer=False,
        save_param_scheduler=False,
        save_last=False,
        max_keep_ckpts=-1,
        priority='LOW')
]

# Validation every 5k iterations on held-out LVIS v1 *val* images (the first 1000): one
# instance per image, a coarse mask synthesised from its ground truth, the training crop
# (box + 40 px) resized to 256x256, refined with all 6 steps at the model resolution
# (test_cfg.mode='whole'); RefinedMaskMetric logs mask/iou, mask/mba and the coarse masks'
# mask/coarse_iou, mask/coarse_mba. Instances and coarse masks are drawn with the run's
# seeded RNG, so they vary between validations: compare refined against coarse. The
# pipeline is the training one (coarse-mask synthesis, crop, resize) without the flip.
val_pipeline = [
    transform for transform in _base_.train_pipeline if transform['type'] != 'RefineRandomFlip'
]
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='LVISRefineDataset',
        ann_file='data/lvis_v1/annotations/lvis_v1_val.json',
        data_prefix=dict(img_path='data/coco/'),
        min_area=512,
        indices=1000,
        test_mode=True,
        pipeline=val_pipeline))
val_evaluator = dict(type='RefinedMaskMetric')
val_cfg = dict(type='ValLoop')
train_cfg = dict(val_interval=5000)
