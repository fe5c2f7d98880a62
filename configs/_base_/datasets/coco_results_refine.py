# Refining saved instance-segmentation results (the paper's LR evaluation): a COCO results
# JSON of any model (image_id, category_id, segmentation RLE, score, optional bbox) plus
# the annotation file naming its images and categories, and the image folder.
# The README's data layout:
#   data/coco/val2017/*.jpg
#   data/lvis_v1/annotations/lvis_v1_val_cocofied.json   (tools/dataset_converters/cocofy_lvis.py)
#   data/coco/results/<model>.segm.json                  (the results to refine)
# Override the results with
#   --cfg-options test_dataloader.dataset.results_file=coco/results/<model>.segm.json
data_root = 'data/'
results_file = 'coco/results/mask-rcnn_r50_fpn_1x_coco.segm.json'
# The paper evaluates against the LVIS v1 val masks of the COCO val2017 images and the 80
# COCO categories ("cocofied" LVIS), with the LVIS protocol and 300 detections per image.
ann_file = 'lvis_v1/annotations/lvis_v1_val_cocofied.json'
# Where the refined results are written: <prefix>.segm.json (and <prefix>.bbox.json).
# Relative to the work dir (tools/test.py places it there).
outfile_prefix = 'refined'

test_pipeline = [
    dict(type='LoadRefineImage'),
    dict(type='LoadCoarseInstances'),
    dict(type='PackCoarseInstances'),
]
# 8 images per step: the crops of all their instances share network batches
# (model.instance_refiner.batch_size at a time), so the network runs full batches. The
# masks do not depend on it (seeded per sample and instance).
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoResultsRefineDataset',
        data_root=data_root,
        results_file=results_file,
        ann_file=ann_file,
        data_prefix=dict(img='coco/val2017/'),
        pipeline=test_pipeline))

test_evaluator = [
    # Mask AP and Boundary AP with the LVIS protocol (the paper's figures).
    dict(
        type='BoundaryLVISMetric',
        ann_file=data_root + ann_file,
        metric=['segm', 'boundary'],
        max_dets=300),
    # Writes the refined results as a COCO results JSON (no evaluation).
    dict(
        type='mmdet.CocoMetric',
        ann_file=data_root + ann_file,
        metric='segm',
        format_only=True,
        outfile_prefix=outfile_prefix),
]
test_cfg = dict(type='TestLoop')
