# Synthetic refinement data (mmseg_refiner/datasets/synthetic.py): procedurally generated
# objects with holes and thin parts on photographs shipped with scikit-image. No files, no
# download. Sample i of a set is a pure function of the seed seed_offset + i: training
# uses seeds from 0, held-out evaluation from 1_000_000 (the demo from 2_000_000), so the
# sets never overlap. image_size is (H, W); for high-resolution experiments raise it and crop in the
# pipeline (e.g. RandomObjectCrop / RandomPatchCrop + RefineResize).
# Configs that use val_dataloader / test_dataloader must add val_evaluator / test_evaluator
# and val_cfg / test_cfg.
image_size = (256, 256)
train_seed_offset = 0
eval_seed_offset = 1_000_000

# The coarse mask is synthesised online from the ground truth (a new one at every fetch),
# as in the LR recipe (perturbation stopped below IoU 0.8 with the boundary-modified mask,
# the reference rule); mmcv's RandomFlip does not flip our mask keys, RefineRandomFlip does.
train_pipeline = [
    dict(type='GenerateCoarseMask', key_in='gt_mask', key_out='coarse_mask', iou_target=0.8),
    dict(type='RefineRandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
# Held-out samples carry a fixed coarse mask (seeded from the sample seed, same options as
# the training synthesis), so every evaluation sees the same inputs.
test_pipeline = [dict(type='PackRefineInputs')]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='SyntheticRefineDataset',
        num_samples=100_000,
        image_size=image_size,
        seed_offset=train_seed_offset,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SyntheticRefineDataset',
        num_samples=100,
        image_size=image_size,
        seed_offset=eval_seed_offset,
        fixed_coarse=True,
        coarse_cfg=dict(iou_target=0.8),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
