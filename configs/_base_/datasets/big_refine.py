# BIG (CascadePSP's high-resolution test set, 2048-5000 px images) with the coarse masks
# of some segmentation model, refined one image at a time at full resolution.
#   data/BIG/test/<name>_im.jpg, data/BIG/test/<name>_gt.png     (images, ground truth)
#   data/BIG/test/<name>_seg.png                                 (coarse masks; point
#       coarse_dir at another folder for another model's masks)
# Refined masks are written to out_dir as <name>_refine.png (0/255) by RefinedMaskWriter;
# a re-run skips the images already there (skip_done), so an interrupted run resumes.
# Metrics then cover the newly refined images only: evaluate a whole folder with
#   python tools/analysis_tools/eval_mask_folders.py --gt data/BIG/test --pred OUT_DIR ...
_base_ = './full_image_refine.py'

big_root = 'data/BIG/'

test_dataloader = dict(
    dataset=dict(type='BIGRefineDataset', data_root=big_root, img_dir='test', coarse_dir='test'))
