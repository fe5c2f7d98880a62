"""The BCE of the published config: mmdet's CrossEntropyLoss(use_sigmoid=True)
on (N, 1, H, W) logits and a float {0, 1} target."""
import math
import os.path as osp
import pytest
import torch
from mmengine.config import Config

from mmseg_refiner.registry import MODELS


def test_the_configs_mask_loss_is_the_mean_sigmoid_bce_of_the_paper(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, 'configs/_base_/models/segrefiner_unet-128.py'))
    loss_mask = MODELS.build(cfg.model.loss_mask)
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 3.0]]]])
    target = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    # -log(sigmoid(z)) = log(1 + e^-z) for target 1, -log(1 - sigmoid(z)) = log(1 + e^z) for 0
    expected = (math.log(2) + math.log(1 + math.e**2) + math.log(1 + math.e**-1) +
                math.log(1 + math.e**-3)) / 4
    assert loss_mask(logits, target).item() == pytest.approx(expected, rel=1e-6)
