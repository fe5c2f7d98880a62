# The SegRefiner models as the refiner of a chain, for configs in any folder:
#   lr_refiner / hr_refiner: the published model (segrefiner_unet_128.py) in instance mode
#     (the LR model's, for RefinedDetector) and in global-local mode (global + local, the HR
#     model's, for RefinedSegmentor); their weights are the authors' checkpoints.
#   demo_lr_refiner / demo_hr_refiner: the small demo model (segrefiner_unet_tiny.py) in the
#     same two modes, with its weights at demo_checkpoint (relative to the repository, where
#     tools/ run; mmseg_refiner.apis.demo_model_files() gives the absolute path). It runs a
#     chain in minutes on a CPU.
# All sample with seed 0 (per sample, from its file name), so a run is reproducible. A
# classic config imports them after its _base_ line, a pure-Python one reads them as a base:
#     with read_base():
#         from mmseg_refiner.configs.segrefiner_refiners import lr_refiner   # or hr_refiner
#     model = dict(type='mmseg_refiner.RefinedDetector', detector=..., refiner=lr_refiner,
#                  refiner_checkpoint='segrefiner_lr.pth')
from mmengine.config import read_base

with read_base():
    from .segrefiner_unet_128 import model as segrefiner
    from .segrefiner_unet_tiny import model as demo_segrefiner

lr_refiner = dict(segrefiner, test_cfg=dict(mode='instance', seed=0, precision='auto'))
hr_refiner = dict(segrefiner, test_cfg=dict(mode='global_local', seed=0, precision='auto'))
demo_lr_refiner = dict(demo_segrefiner, test_cfg=dict(mode='instance', seed=0, precision='auto'))
demo_hr_refiner = dict(
    demo_segrefiner, test_cfg=dict(mode='global_local', seed=0, precision='auto'))
demo_checkpoint = 'demo/segrefiner_demo.pth'
del segrefiner, demo_segrefiner
