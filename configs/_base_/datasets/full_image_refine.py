# What the test sets refined at full resolution share (big_refine.py,
# dis5k_refine.py, mask_folder_refine.py): images with coarse masks and ground truth read
# from folders; a test set names its dataset type and folders in test_dataloader.dataset.
# Refined masks are written under out_dir (0/255 PNGs) by RefinedMaskWriter; a re-run
# skips the images already there (skip_done), so an interrupted run resumes.
test_pipeline = [
    dict(type='LoadRefineImage'),
    dict(type='LoadMaskFromFile', key='coarse_mask', path_key='coarse_path', allow_empty=True),
    dict(type='LoadMaskFromFile', key='gt_mask', path_key='mask_path', allow_empty=True),
    dict(
        type='PackRefineInputs',
        meta_keys=('img_path', 'mask_path', 'coarse_path', 'out_path', 'ori_shape', 'img_shape')),
]

# Images of a batch share the network's calls (GlobalLocalRefiner: the global passes of
# the batch in one call, the patches of all its images batch_size at a time); the refined
# masks do not depend on the batch size. Each image stays at its own size (no padding).
test_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    # No padding of the last round: every sample is refined once, and a resumed run
    # with nothing left to do has an empty dataset, which round_up cannot sample.
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        out_dir='refined',  # under the work dir (tools/test.py)
        skip_done=True,
        pipeline=test_pipeline))
test_evaluator = dict(type='RefinedMaskMetric')
test_cfg = dict(type='TestLoop')

custom_hooks = [dict(type='RefinedMaskWriter')]
