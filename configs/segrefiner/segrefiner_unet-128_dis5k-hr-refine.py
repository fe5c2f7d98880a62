# The HR model in global-local mode on DIS5K DIS-VD and
# DIS-TE1..4, with the coarse masks of some model; reports IoU and mBA of coarse and
# refined masks over all chosen subsets.
#   python tools/test.py configs/segrefiner/segrefiner_unet-128_dis5k-hr-refine.py HR_CHECKPOINT
# HR_CHECKPOINT: the published HR weights converted with
# tools/model_converters/convert_official_checkpoint.py, or a checkpoint of
# segrefiner_unet-128_8xb8-40k_dis5k-thin-256.py. One subset, other coarse masks:
#   --cfg-options "test_dataloader.dataset.subsets=['DIS-TE1']" \
#       test_dataloader.dataset.coarse_dir=coarse_<model>
# Refined masks go to <work_dir>/refined/<subset>/ (test_dataloader.dataset.out_dir); a
# re-run with the same --work-dir skips what is there.
_base_ = [
    '../_base_/models/segrefiner_unet-128.py',
    '../_base_/datasets/dis5k_refine.py',
    '../_base_/default_runtime.py',
]

# The paper's global-local settings live in the model base config.
model = dict(test_cfg=dict(mode='global_local', seed=0))

# Each image takes a while: log progress after every one.
default_hooks = dict(logger=dict(interval=1))
