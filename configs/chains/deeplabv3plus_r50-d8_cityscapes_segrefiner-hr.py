# DeepLabV3+ R50-D8 (mmseg, Cityscapes 512x1024, 40k) with every class it predicts
# refined by SegRefiner HR (global + local), evaluated by mmseg's IoUMetric.
#   python tools/test.py configs/chains/deeplabv3plus_r50-d8_cityscapes_segrefiner-hr.py none
# Both models load their own weights (below), so no combined checkpoint is needed. Any
# other mmseg segmentor chains the same way: change the first base.
#
# Each class present in the prediction is refined as a binary mask on the *original*
# image at its original size; a pixel takes the class with the highest refined
# probability, or keeps its label where no refined mask reaches 0.5. The original image
# is the batch input when the test pipeline kept its size (Cityscapes' Resize to
# 2048x1024 does), otherwise it is read again from the sample's img_path.
_base_ = [
    'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py',
    './_base_/segrefiner-hr_refiner.py',
]
custom_imports = dict(imports=['mmseg_refiner'], allow_failed_imports=False)

# Placeholders: replace with real files (or URLs).
# - mmseg's model-zoo weights of this segmentor (mIoU 79.61), listed in mmseg's
#   configs/deeplabv3plus/metafile.yaml:
#   https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/deeplabv3plus_r50-d8_512x1024_40k_cityscapes/deeplabv3plus_r50-d8_512x1024_40k_cityscapes_20200605_094610-d222ffcd.pth  # noqa: E501
# - the published SegRefiner HR weights after
#   tools/model_converters/convert_official_checkpoint.py.
segmentor_checkpoint = 'checkpoints/deeplabv3plus_r50-d8_512x1024_40k_cityscapes.pth'
refiner_checkpoint = 'checkpoints/segrefiner_hr_converted.pth'

segmentor = _base_.model
segmentor.pretrained = None  # the segmentor checkpoint holds the backbone
segmentor.init_cfg = dict(type='Pretrained', checkpoint=segmentor_checkpoint)
refiner = _base_.refiner
refiner.init_cfg = dict(type='Pretrained', checkpoint=refiner_checkpoint)

model = dict(
    _delete_=True,
    type='mmseg_refiner.RefinedSegmentor',
    segmentor=segmentor,
    refiner=refiner)

# mmseg's test pipeline, IoUMetric and SegLocalVisualizer stay as the base config sets
# them; the log shows progress every 10 images.
default_hooks = dict(logger=dict(interval=10))
