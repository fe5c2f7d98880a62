"""What the test suite shares, as ``mmdet.testing``: tiny models and random weights for them
(:mod:`.tiny_models`), tiny data sets on disk and chain configs (:mod:`.tiny_folders`,
:mod:`.tiny_chains`), the paper's recipes trained for two iterations (:mod:`.recipe_runs`),
tools run in a child process (:mod:`.tool_runs`) or loaded as modules (:mod:`.scripts`).

Imported by tests alone; nothing else of the package imports it.
"""
from mmseg_refiner.apis.inference import DEMO_CHECKPOINT, DEMO_CONFIG, REPO_ROOT
from .recipe_runs import TINY_64_DENOISER, shrink_recipe, train_two_iterations
from .scripts import load_script, registered_script
from .tiny_chains import (DET_CHAIN, IMAGE_SHAPE, SEG_CHAIN, demo_refiner_lines,
                          save_upstream_checkpoint, tiny_image, write_det_chain_config,
                          write_seg_chain_config, write_tiny_cityscapes, write_tiny_coco)
from .tiny_folders import make_big_tree, make_dis5k_tree, write_sample
from .tiny_models import TINY_DEMO_OPTIONS, TINY_DENOISER, randomize_, tiny_segrefiner_cfg
from .tool_runs import free_port, run_in_repo

__all__ = [
    'DEMO_CHECKPOINT', 'DEMO_CONFIG', 'DET_CHAIN', 'IMAGE_SHAPE', 'REPO_ROOT', 'SEG_CHAIN',
    'TINY_64_DENOISER', 'TINY_DEMO_OPTIONS', 'TINY_DENOISER', 'demo_refiner_lines', 'free_port',
    'load_script', 'make_big_tree', 'make_dis5k_tree', 'randomize_', 'registered_script',
    'run_in_repo', 'save_upstream_checkpoint', 'shrink_recipe', 'tiny_image', 'tiny_segrefiner_cfg',
    'train_two_iterations', 'write_det_chain_config', 'write_sample', 'write_seg_chain_config',
    'write_tiny_cityscapes', 'write_tiny_coco'
]
