# The HR model in global-local mode on BIG (the paper's HR test), with the
# coarse masks of some segmentation model; reports IoU and mBA of coarse and refined masks.
#   python tools/test.py configs/segrefiner/segrefiner_unet-128_big-hr-refine.py HR_CHECKPOINT
# HR_CHECKPOINT: the published HR weights converted with
# tools/model_converters/convert_official_checkpoint.py, or a checkpoint of
# segrefiner_unet-128_8xb8-40k_dis5k-thin-256.py. Other coarse masks:
#   --cfg-options test_dataloader.dataset.coarse_dir=coarse/<model>
# Refined masks go to <work_dir>/refined (test_dataloader.dataset.out_dir); a re-run with
# the same --work-dir skips what is there.
_base_ = [
    '../_base_/models/segrefiner_unet-128.py',
    '../_base_/datasets/big_refine.py',
    '../_base_/default_runtime.py',
]

# The paper's global-local settings live in the model base config.
model = dict(test_cfg=dict(mode='global_local', seed=0))

# Each image takes a while: log progress after every one.
default_hooks = dict(logger=dict(interval=1))
