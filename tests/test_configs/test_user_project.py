"""A user's project in another folder chains its own mmdet / mmseg model to the refiner with the
config syntax of docs/checkpoints_and_chains.md (the refiner's configs ship in the package) and
runs it."""
import cv2
import os
import subprocess
import sys
import textwrap

from mmseg_refiner.testing import DEMO_CHECKPOINT, DEMO_CONFIG, REPO_ROOT, tiny_image

# The syntax of docs/checkpoints_and_chains.md ("Your own config, in your own project"), then
# the test's own choices:
# the demo refiner (architecture and weights), random upstream weights, a small test size.
DET_CONFIG = """
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']  # your mmdet model
from mmseg_refiner.configs.segrefiner_refiners import lr_refiner  # noqa: E402

custom_imports = dict(imports=['mmseg_refiner'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    type='mmseg_refiner.RefinedDetector',
    detector=_base_.model,
    refiner=lr_refiner,
    detector_checkpoint=None,
    refiner_checkpoint='segrefiner_lr.pth',
    backbone=dict(init_cfg=None))
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel')
del lr_refiner

from mmengine.config import Config  # noqa: E402
model['refiner'] = dict(Config.fromfile({demo_config!r}).model.to_dict(),
                        test_cfg=dict(mode='instance', seed=0))
model['refiner_checkpoint'] = {demo_checkpoint!r}
model['detector']['test_cfg']['rcnn'].update(score_thr=0.0, max_per_img=2)
del Config
"""
SEG_CONFIG = """
_base_ = ['mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py']
from mmseg_refiner.configs.segrefiner_refiners import hr_refiner  # noqa: E402

custom_imports = dict(imports=['mmseg_refiner'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    type='mmseg_refiner.RefinedSegmentor',
    segmentor=_base_.model,
    refiner=hr_refiner,
    segmentor_checkpoint=None,
    refiner_checkpoint='segrefiner_hr.pth')
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel')
del hr_refiner

from mmengine.config import Config  # noqa: E402
model['refiner'] = dict(Config.fromfile({demo_config!r}).model.to_dict(),
                        test_cfg=dict(mode='global_local', seed=0))
model['refiner_checkpoint'] = {demo_checkpoint!r}
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]
del Config
"""
RUN = """
from mmdet.apis import inference_detector, init_detector
from mmseg.apis import inference_model, init_model

det = inference_detector(init_detector('configs/det_chain.py', device='cpu'), 'img.png')
print('det', tuple(det.pred_instances.masks.shape), tuple(det.pred_instances.coarse_masks.shape))
seg = inference_model(init_model('configs/seg_chain.py', device='cpu'), 'img.png')
print('seg', tuple(seg.pred_sem_seg.data.shape), tuple(seg.coarse_sem_seg.data.shape))
"""


def test_a_project_elsewhere_chains_mmdet_and_mmseg_models(tmp_path):
    project = tmp_path / 'my_project'
    (project / 'configs').mkdir(parents=True)
    values = dict(demo_config=DEMO_CONFIG, demo_checkpoint=DEMO_CHECKPOINT)
    (project / 'configs' / 'det_chain.py').write_text(DET_CONFIG.format(**values))
    (project / 'configs' / 'seg_chain.py').write_text(SEG_CONFIG.format(**values))
    (project / 'run.py').write_text(textwrap.dedent(RUN))
    cv2.imwrite(str(project / 'img.png'), tiny_image(0))
    # the package as installed: importable, not the working directory
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, 'run.py'],
                          cwd=project,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert 'det (2, 96, 128) (2, 96, 128)' in proc.stdout
    assert 'seg (1, 96, 128) (1, 96, 128)' in proc.stdout


def test_the_demo_refiner_is_the_demo_recipes_model_in_both_modes():
    from mmengine.config import Config

    from mmseg_refiner.configs.segrefiner_refiners import (demo_checkpoint, demo_hr_refiner,
                                                           demo_lr_refiner)
    recipe = Config.fromfile(DEMO_CONFIG).model.to_dict()
    for refiner, mode in ((demo_lr_refiner, 'instance'), (demo_hr_refiner, 'global_local')):
        assert refiner['test_cfg']['mode'] == mode
        assert {k: v for k, v in refiner.items() if k != 'test_cfg'} == \
            {k: v for k, v in recipe.items() if k != 'test_cfg'}
    assert os.path.samefile(os.path.join(REPO_ROOT, demo_checkpoint), DEMO_CHECKPOINT)
