# SegRefiner HR model (paper): the LR model after 80k iterations, fine-tuned on DIS5K DIS-TR
# + ThinObject-5K train for 40k iterations, 8 GPUs x 8 samples (x 2 pairs each).
#   tools/dist_train.sh configs/segrefiner/segrefiner_unet-128_8xb8-40k_dis5k-thin-256.py 8
_base_ = [
    '../_base_/models/segrefiner_unet-128.py',
    '../_base_/datasets/dis5k_thin_hr_refine.py',
    '../_base_/schedules/schedule_40k.py',
    '../_base_/default_runtime.py',
]

# Initialisation: the LR run's 80k-iteration checkpoint. This is where
# segrefiner_unet-128_8xb8-120k_lvis-256.py writes it with the default work dir; set it
# to your LR checkpoint (or pass --cfg-options load_from=PATH).
load_from = 'work_dirs/segrefiner_unet-128_8xb8-120k_lvis-256/milestone_iter_80000.pth'

# Resumable checkpoints (weights, optimizer and LR-scheduler state) every 500 iterations,
# the last two kept: a killed run loses a few minutes on 8 GPUs and continues with
# `--resume`; the final one (iter_40000.pth) is the HR model.
default_hooks = dict(
    checkpoint=dict(
        interval=500,
        by_epoch=False,
        save_optimizer=True,
        save_param_scheduler=True,
        max_keep_ckpts=2))
