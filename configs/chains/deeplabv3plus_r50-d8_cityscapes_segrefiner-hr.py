# DeepLabV3+ R50-D8 (mmseg, Cityscapes 512x1024, 40k) with every class it predicts
# refined by the SegRefiner HR model in global-local mode (global + local), evaluated by
# mmseg's IoUMetric.
#   python tools/test.py configs/chains/deeplabv3plus_r50-d8_cityscapes_segrefiner-hr.py \
#       segrefiner_hr.pth [--show-dir vis]
# The checkpoint of tools/test.py may be the refiner's (ours, or the authors' published
# file as it is), or the combined checkpoint of
# tools/model_converters/combine_chain_checkpoint.py (which mmseg's own tools/test.py,
# init_model and MMSegInferencer take too). Any other mmseg segmentor chains the same
# way: change the first base.
#
# Each class present in the prediction is refined as a binary mask on the *original*
# image at its original size; a pixel takes the class with the highest refined
# probability, or keeps its label where no refined mask reaches 0.5. The original image
# is the batch input resized back to the original size (exact here: Cityscapes' Resize to
# 2048x1024 keeps it). The segmentor preprocesses with its own data_preprocessor; the
# top-level data_preprocessor of mmseg's config is not used by the chain.
# Configs in any folder chain the same way (the refiner's configs ship in the package).
_base_ = ['mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py']
from mmseg_refiner.configs.segrefiner_refiners import hr_refiner  # noqa: E402 (after _base_)

custom_imports = dict(imports=['mmseg_refiner'], allow_failed_imports=False)

segmentor = _base_.model
segmentor.pretrained = None  # the segmentor checkpoint holds the backbone
model = dict(
    _delete_=True,
    type='mmseg_refiner.RefinedSegmentor',
    segmentor=segmentor,
    refiner=hr_refiner,  # SegRefiner (published design), global-local mode, seed 0
    # mmseg's model-zoo weights of this segmentor (mIoU 79.61, mmseg's
    # configs/deeplabv3plus/metafile.yaml), a path or URL, read when the weights are
    # loaded: --cfg-options model.segmentor_checkpoint=...
    segmentor_checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/'
    'deeplabv3plus_r50-d8_512x1024_40k_cityscapes/'
    'deeplabv3plus_r50-d8_512x1024_40k_cityscapes_20200605_094610-d222ffcd.pth',
    # The SegRefiner HR weights (the authors' published file is accepted as is); also the
    # checkpoint argument of tools/test.py. Without one the run stops with an error.
    refiner_checkpoint=None)
del segmentor, hr_refiner

# Both models are frozen: distributed testing wraps only modules that train (none).
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', broadcast_buffers=False, find_unused_parameters=False)

# mmseg's test pipeline and IoUMetric stay as the base config sets them; --show /
# --show-dir of tools/test.py draw image, coarse, refined (and ground truth) side by side.
default_hooks = dict(
    logger=dict(interval=10),
    visualization=dict(_delete_=True, type='mmseg_refiner.RefinementVisualizationHook'))
