"""Configs that ship with the package, for configs in any folder.

``segrefiner_unet_128`` is the published SegRefiner model (a plain config with
no imports, which the repository's ``configs/_base_/models/segrefiner_unet-128.py``
inherits by path); ``segrefiner_refiners`` gives it as the refiner of a chain, in instance
mode (``lr_refiner``, for the LR model) and in global-local mode (``hr_refiner``,
global + local, for the HR model). A classic config imports them after its
``_base_`` line (MMEngine runs the config as Python)::

    _base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
    from mmseg_refiner.configs.segrefiner_refiners import lr_refiner

and a config in MMEngine's pure-Python style reads them as a base::

    with read_base():
        from mmseg_refiner.configs.segrefiner_refiners import lr_refiner
"""
