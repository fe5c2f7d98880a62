# Mask R-CNN R50-FPN (mmdet, 1x COCO) with every predicted mask refined by SegRefiner LR.
#   python tools/test.py configs/chains/mask-rcnn_r50_fpn_1x_coco_segrefiner-lr.py none
# Both models load their own weights (below), so no combined checkpoint is needed. Any
# other mmdet detector with a mask head chains the same way: change the first base.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    './_base_/segrefiner-lr_refiner.py',
]
custom_imports = dict(imports=['mmseg_refiner'], allow_failed_imports=False)

# mmdet's model-zoo weights of this detector (box AP 38.2, mask AP 34.7), downloaded on
# first use; a local path works too.
detector_checkpoint = 'https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/' \
    'mask_rcnn_r50_fpn_1x_coco/mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth'
# The published SegRefiner LR weights after
# tools/model_converters/convert_official_checkpoint.py (placeholder path).
refiner_checkpoint = 'checkpoints/segrefiner_lr_converted.pth'

detector = _base_.model
detector.backbone.init_cfg = None  # the detector checkpoint holds the backbone
detector.init_cfg = dict(type='Pretrained', checkpoint=detector_checkpoint)
refiner = _base_.refiner
refiner.init_cfg = dict(type='Pretrained', checkpoint=refiner_checkpoint)

model = dict(
    _delete_=True,
    type='mmseg_refiner.RefinedDetector',
    detector=detector,
    refiner=refiner)

# The paper's evaluation: Mask AP and Boundary AP against the "cocofied" LVIS v1 val
# annotations (tools/dataset_converters/cocofy_lvis.py), LVIS protocol, 300 detections per
# image. mmdet's test dataloader (COCO val2017, CocoDataset labels) stays unchanged: the
# cocofied file keeps COCO's category ids and names, so labels map to the same ids.
test_evaluator = dict(
    _delete_=True,
    type='mmseg_refiner.BoundaryLVISMetric',
    ann_file='data/coco/annotations/lvis_v1_val_cocofied.json',
    metric=['segm', 'boundary'],
    max_dets=300)
