# BIG (CascadePSP's high-resolution test set, 2048-5000 px images) with the coarse masks
# of some segmentation model, refined one image at a time at full resolution.
#   data/BIG/test/<name>_im.jpg, data/BIG/test/<name>_gt.png     (images, ground truth)
#   data/BIG/test/<name>_seg.png                                 (coarse masks; point
#       coarse_dir at another folder for another model's masks)
# Refined masks are written to out_dir as <name>_refine.png (0/255) by RefinedMaskWriter;
# a re-run skips the images already there (skip_done), so an interrupted run resumes.
# Metrics then cover the newly refined images only: evaluate a whole folder with
#   python tools/analysis_tools/eval_mask_folders.py --gt data/BIG/test --pred OUT_DIR ...
big_root = 'data/BIG/'

test_pipeline = [
    dict(type='LoadRefineImage'),
    dict(type='LoadMaskFromFile', key='coarse_mask', path_key='coarse_path', allow_empty=True),
    dict(type='LoadMaskFromFile', key='gt_mask', path_key='mask_path', allow_empty=True),
    dict(
        type='PackRefineInputs',
        meta_keys=('img_path', 'mask_path', 'coarse_path', 'out_path', 'ori_shape',
                   'img_shape')),
]

test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    # No padding of the last round: every sample is refined once, and a resumed run
    # with nothing left to do has an empty dataset, which round_up cannot sample.
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='BIGRefineDataset',
        data_root=big_root,
        img_dir='test',
        coarse_dir='test',
        out_dir='refined',  # under the work dir (tools/test.py)
        skip_done=True,
        pipeline=test_pipeline))
test_evaluator = dict(type='RefinedMaskMetric', prefix='hr')
test_cfg = dict(type='TestLoop')

custom_hooks = [dict(type='RefinedMaskWriter')]
