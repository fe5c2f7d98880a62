# The LR model in instance mode on the saved COCO results of any model (the paper's LR test).
#   python tools/test.py configs/segrefiner/segrefiner_unet-128_coco-results-refine.py \
#       LR_CHECKPOINT \
#       --cfg-options test_dataloader.dataset.results_file=coco/results/<model>.segm.json
# LR_CHECKPOINT: the published LR weights converted with
# tools/model_converters/convert_official_checkpoint.py, or a checkpoint of
# segrefiner_unet-128_8xb8-120k_lvis-256.py. The same job as a resumable command line:
# tools/refine_coco_results.py.
_base_ = [
    '../_base_/models/segrefiner_unet-128.py',
    '../_base_/datasets/coco_results_refine.py',
    '../_base_/default_runtime.py',
]

# The paper's instance settings live in the model base config.
model = dict(test_cfg=dict(mode='instance', seed=0))
