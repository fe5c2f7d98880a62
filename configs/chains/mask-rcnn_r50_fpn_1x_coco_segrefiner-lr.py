# Mask R-CNN R50-FPN (mmdet, 1x COCO) with every predicted mask refined by SegRefiner LR.
#   python tools/test.py configs/chains/mask-rcnn_r50_fpn_1x_coco_segrefiner-lr.py \
#       segrefiner_lr.pth [--show-dir vis]
# The checkpoint of tools/test.py may be the refiner's (ours, or the authors' published
# file as it is), or the combined checkpoint of
# tools/model_converters/combine_chain_checkpoint.py (which mmdet's own tools/test.py,
# init_detector and DetInferencer take too). Any other mmdet detector with a mask head
# chains the same way: change the first base.
# Configs in any folder chain the same way (the refiner's configs ship in the package).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
from mmseg_refiner.configs.segrefiner_refiners import lr_refiner  # noqa: E402 (after _base_)

custom_imports = dict(imports=['mmseg_refiner'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmseg_refiner.RefinedDetector',
    detector=_base_.model,
    refiner=lr_refiner,  # SegRefiner (published design), instance mode, seed 0
    # mmdet's model-zoo weights of this detector (box AP 38.2, mask AP 34.7), a path or
    # URL, read when the weights are loaded: --cfg-options model.detector_checkpoint=...
    detector_checkpoint='https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/'
    'mask_rcnn_r50_fpn_1x_coco/mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth',
    # The SegRefiner LR weights (the authors' published file is accepted as is); also the
    # checkpoint argument of tools/test.py. Without one the run stops with an error.
    refiner_checkpoint=None,
    # The detector checkpoint holds the backbone: no ImageNet initialisation.
    backbone=dict(init_cfg=None))
del lr_refiner

# Both models are frozen: distributed testing wraps only modules that train (none).
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', broadcast_buffers=False, find_unused_parameters=False)

# The paper's evaluation: Mask AP and Boundary AP against the "cocofied" LVIS v1 val
# annotations (tools/dataset_converters/cocofy_lvis.py), LVIS protocol, 300 detections per
# image. mmdet's test dataloader (COCO val2017, CocoDataset labels) stays unchanged: the
# cocofied file keeps COCO's category ids and names, so labels map to the same ids.
test_evaluator = dict(
    _delete_=True,
    type='mmseg_refiner.BoundaryLVISMetric',
    ann_file='data/lvis_v1/annotations/lvis_v1_val_cocofied.json',
    metric=['segm', 'boundary'],
    max_dets=300)

# --show / --show-dir of tools/test.py: image, coarse, refined (and ground truth) side by side.
default_hooks = dict(
    visualization=dict(_delete_=True, type='mmseg_refiner.RefinementVisualizationHook'))
