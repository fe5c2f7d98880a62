# SegRefiner HR model (paper): the LR model after 80k iterations, fine-tuned on DIS5K DIS-TR
# + ThinObject-5K train for 40k iterations, 8 GPUs x 8 samples (x 2 pairs each).
#   tools/dist_train.sh configs/segrefiner/segrefiner_unet-128_8xb8-40k_dis5k-thin-256.py 8
_base_ = [
    '../_base_/models/segrefiner_unet-128.py',
    '../_base_/datasets/dis5k_thin_hr_refine.py',
    '../_base_/schedules/schedule_40k.py',
    '../_base_/resumable_runtime.py',
]

# Initialisation: the LR run's 80k-iteration checkpoint. This is where
# segrefiner_unet-128_8xb8-120k_lvis-256.py writes it with the default work dir; set it
# to your LR checkpoint (or pass --cfg-options load_from=PATH).
load_from = 'work_dirs/segrefiner_unet-128_8xb8-120k_lvis-256/milestone_iter_80000.pth'

# Resumable checkpoints (weights, optimizer and LR-scheduler state) every 500 iterations,
# the last two kept: a killed run loses a few minutes on 8 GPUs and continues with
# `--resume`; the final one (iter_40000.pth) is the HR model.
default_hooks = dict(checkpoint=dict(interval=500))

# Validation every 5k iterations on the held-out DIS5K DIS-VD split (the first 50 images)
# with the paper's HR test protocol (global 256 px steps 5..1, then local full-resolution
# patches, see the model base config); coarse masks are the offline synthesis of its
# ground truth, made once like the training ones:
#   python tools/dataset_converters/make_hr_coarse_masks.py \
#       data/DIS5K/DIS-VD/gt data/DIS5K/DIS-VD/coarse
# RefinedMaskMetric logs mask/iou, mask/mba, mask/coarse_iou, mask/coarse_mba.
model = dict(test_cfg=dict(mode='global_local', seed=0))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MaskFolderDataset',
        data_root='data/DIS5K/DIS-VD/',
        img_dir='im',
        coarse_dir='coarse/gt',
        gt_dir='gt',
        indices=50,
        pipeline=[
            dict(type='LoadRefineImage'),
            dict(type='LoadMaskFromFile', key='coarse_mask', path_key='coarse_path'),
            dict(type='LoadMaskFromFile', key='gt_mask', path_key='mask_path'),
            dict(type='PackRefineInputs'),
        ]))
val_evaluator = dict(type='RefinedMaskMetric')
val_cfg = dict(type='ValLoop')
train_cfg = dict(val_interval=5000)
