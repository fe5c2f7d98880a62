# SegRefiner HR (paper's high-resolution global + local refinement) on BIG, with the
# coarse masks of some segmentation model; reports IoU and mBA of coarse and refined masks.
#   python tools/test.py configs/segrefiner/segrefiner_unet-128_big-hr-refine.py HR_CHECKPOINT
# HR_CHECKPOINT: the published HR weights converted with
# tools/model_converters/convert_official_checkpoint.py, or a checkpoint of
# segrefiner_unet-128_8xb8-40k_dis5k-thin-256.py. Other coarse masks:
#   --cfg-options test_dataloader.dataset.coarse_dir=coarse/<model>
# Refined masks go to work_dirs/refined/big (test_dataloader.dataset.out_dir); a re-run
# skips what is there.
_base_ = [
    '../_base_/models/segrefiner_unet-128.py',
    '../_base_/datasets/big_refine.py',
    '../_base_/default_runtime.py',
]

# Global: image and mask resized to 256x256 (nearest, as the published models were
# evaluated), reverse steps t=5..1. Local: 256x256 full-resolution patches centred on
# pixels with c < 0.9 * max(c), NMS IoU 0.3, step t=0, 32 patches per network call.
# Masks with <= 128 foreground pixels are kept as they are.
model = dict(
    semantic_refiner=dict(
        type='GlobalLocalRefiner',
        min_fg_pixels=128,
        interpolation='nearest',
        prob_interpolation='nearest',
        global_timesteps=(5, 4, 3, 2, 1),
        local_timesteps=(0, ),
        fine_prob_ratio=0.9,
        patch_size=256,
        nms_iou_thr=0.3,
        batch_size=32,
        threshold=0.5),
    test_cfg=dict(mode='semantic', seed=0))

# Each image takes a while: log progress after every one.
default_hooks = dict(logger=dict(interval=1))
