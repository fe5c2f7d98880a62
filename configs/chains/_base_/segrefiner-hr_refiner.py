# The SegRefiner HR model under the name `refiner` instead of `model`, in semantic
# (high-resolution global + local) test mode. MMEngine refuses a key defined by two
# bases, so a chain config cannot inherit both an upstream config (which defines
# `model`) and configs/_base_/models/segrefiner_unet-128.py; it inherits this file instead.
_base_ = ['../../_base_/models/segrefiner_unet-128.py']

refiner = _base_.model
refiner.update(test_cfg=dict(mode='semantic', seed=0, precision='auto'))
del _base_.model
