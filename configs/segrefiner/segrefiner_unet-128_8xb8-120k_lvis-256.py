# SegRefiner LR model (paper): trained on LVIS v1 train, 8 GPUs x 8 samples, 120k iterations.
#   tools/dist_train.sh configs/segrefiner/segrefiner_unet-128_8xb8-120k_lvis-256.py 8
_base_ = [
    '../_base_/models/segrefiner_unet-128.py',
    '../_base_/datasets/lvis_refine.py',
    '../_base_/schedules/schedule_120k.py',
    '../_base_/default_runtime.py',
]

# A checkpoint every 5k iterations; keep the last 9 (iter_80000 ... iter_120000) so that
# iter_80000.pth, which initialises the HR model, survives to the end of the run.
default_hooks = dict(checkpoint=dict(interval=5000, by_epoch=False, max_keep_ckpts=9))
