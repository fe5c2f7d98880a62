# Any folder of images with a folder of coarse masks, matched by name
# (<img_dir>/<stem>.<jpg|png|...> with <coarse_dir>/<stem>.png), refined one image at a time
# at full resolution. tools/refine.py IMAGE_DIR MASK_DIR --out OUT_DIR builds its data from
# this test_dataloader (or from the model config's own, when that is a MaskFolderDataset), so
#   python tools/test.py <model config with this base> CHECKPOINT
# and tools/refine.py give the same PNGs. Masks are read under the package's one mask rule
# (mmseg_refiner/fileio/masks.py: 0/1 and 0/255 alike, JPEG noise ignored, palette PNGs by
# index). With ground truth, set gt_dir (and gt_suffix), add
#   dict(type='LoadMaskFromFile', key='gt_mask', path_key='mask_path', allow_empty=True)
# to the pipeline and 'mask_path' to meta_keys, and set
# test_evaluator = dict(type='RefinedMaskMetric').
_base_ = './full_image_refine.py'

folder_img_dir = 'data/folder/images'
folder_coarse_dir = 'data/folder/coarse'

test_pipeline = [
    dict(type='LoadRefineImage'),
    dict(type='LoadMaskFromFile', key='coarse_mask', path_key='coarse_path', allow_empty=True),
    dict(
        type='PackRefineInputs',
        meta_keys=('img_path', 'coarse_path', 'out_path', 'ori_shape', 'img_shape')),
]
test_dataloader = dict(
    dataset=dict(
        type='MaskFolderDataset',
        img_dir=folder_img_dir,
        coarse_dir=folder_coarse_dir,
        coarse_suffix='.png',
        # out_dir (the base's 'refined'): under the work dir for tools/test.py; tools/refine.py
        # writes to --out
        pipeline=test_pipeline))
# No ground truth: nothing to score; RefinedMaskWriter writes the refined masks.
test_evaluator = []
