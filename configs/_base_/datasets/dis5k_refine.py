# DIS5K validation and test sets (DIS-VD, DIS-TE1..4) with the coarse masks of some
# dichotomous-segmentation model, refined one image at a time at full resolution.
#   data/DIS5K/DIS-TE1/im/<name>.jpg, data/DIS5K/DIS-TE1/gt/<name>.png   (and the others)
#   data/DIS5K/coarse/DIS-TE1/<name>.png                                  (coarse masks)
# Refined masks are written to out_dir/<subset>/<name>.png (0/255) by RefinedMaskWriter;
# a re-run skips the images already there (skip_done), so an interrupted run resumes.
# Metrics then cover the newly refined images only: evaluate a whole folder with
#   python tools/analysis_tools/eval_mask_folders.py --gt data/DIS5K/DIS-TE1/gt ...
_base_ = './full_image_refine.py'

dis5k_root = 'data/DIS5K/'

# The shared pipeline, packing the subset name too (RefinedMaskWriter's sub-folder).
test_pipeline = [
    *_base_.test_pipeline[:-1],
    dict(
        type='PackRefineInputs',
        meta_keys=('img_path', 'mask_path', 'coarse_path', 'out_path', 'subset', 'ori_shape',
                   'img_shape')),
]
test_dataloader = dict(
    dataset=dict(
        type='DIS5KRefineDataset',
        data_root=dis5k_root,
        img_dir='',
        coarse_dir='coarse',
        subsets=('DIS-VD', 'DIS-TE1', 'DIS-TE2', 'DIS-TE3', 'DIS-TE4'),
        pipeline=test_pipeline))
