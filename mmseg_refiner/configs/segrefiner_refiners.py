# The published SegRefiner model as the refiner of a chain, for configs outside this
# repository (MMEngine's pure-Python config style):
#     with read_base():
#         from mmseg_refiner.configs.segrefiner_refiners import lr_refiner   # or hr_refiner
#     model = dict(type='mmseg_refiner.RefinedDetector', detector=..., refiner=lr_refiner,
#                  refiner_checkpoint='segrefiner_lr.pth')
# lr_refiner: instance mode (the LR model's), for RefinedDetector; hr_refiner: global-local
# mode (global + local, the HR model's), for RefinedSegmentor. Both sample with seed 0
# (per sample, from its file name), so a run is reproducible.
from mmengine.config import read_base

with read_base():
    from .segrefiner_unet_128 import model as segrefiner

lr_refiner = dict(segrefiner, test_cfg=dict(mode='instance', seed=0, precision='auto'))
hr_refiner = dict(segrefiner, test_cfg=dict(mode='global_local', seed=0, precision='auto'))
del segrefiner
