# DIS5K validation and test sets (DIS-VD, DIS-TE1..4) with the coarse masks of some
# dichotomous-segmentation model, refined one image at a time at full resolution.
#   data/DIS5K/DIS-TE1/im/<name>.jpg, data/DIS5K/DIS-TE1/gt/<name>.png   (and the others)
#   data/DIS5K/coarse/DIS-TE1/<name>.png                                  (coarse masks)
# Refined masks are written to out_dir/<subset>/<name>.png (0/255) by RefinedMaskWriter;
# a re-run skips the images already there (skip_done), so an interrupted run resumes.
# Metrics then cover the newly refined images only: evaluate a whole folder with
#   python tools/analysis_tools/eval_mask_folders.py --gt data/DIS5K/DIS-TE1/gt ...
dis5k_root = 'data/DIS5K/'

test_pipeline = [
    dict(type='LoadRefineImage'),
    dict(type='LoadMaskFromFile', key='coarse_mask', path_key='coarse_path', allow_empty=True),
    dict(type='LoadMaskFromFile', key='gt_mask', path_key='mask_path', allow_empty=True),
    dict(
        type='PackRefineInputs',
        meta_keys=('img_path', 'mask_path', 'coarse_path', 'out_path', 'subset', 'ori_shape',
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
        type='DIS5KRefineDataset',
        data_root=dis5k_root,
        img_dir='',
        coarse_dir='coarse',
        subsets=('DIS-VD', 'DIS-TE1', 'DIS-TE2', 'DIS-TE3', 'DIS-TE4'),
        out_dir='refined',  # under the work dir (tools/test.py)
        skip_done=True,
        pipeline=test_pipeline))
test_evaluator = dict(type='RefinedMaskMetric', prefix='hr')
test_cfg = dict(type='TestLoop')

custom_hooks = [dict(type='RefinedMaskWriter')]
