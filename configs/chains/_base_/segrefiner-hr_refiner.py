# The SegRefiner HR model under the name `refiner` instead of `model`, in semantic
# (high-resolution global + local) test mode. MMEngine refuses a key defined by two
# bases, so a chain config cannot inherit both an upstream config (which defines
# `model`) and configs/_base_/models/segrefiner_unet-128.py; it inherits this file instead.
_base_ = ['../../_base_/models/segrefiner_unet-128.py']

refiner = _base_.model
refiner.update(
    # Paper's settings. Global: image and mask resized to 256x256 (nearest, as the
    # published models were evaluated), reverse steps t=5..1. Local: 256x256
    # full-resolution patches centred on pixels with c < 0.9 * max(c), NMS IoU 0.3,
    # step t=0, 32 patches per network call; masks with <= 128 px are kept as they are.
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
del _base_.model
