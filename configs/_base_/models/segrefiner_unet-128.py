# The published SegRefiner model; the config ships with the package
# (mmseg_refiner/configs/segrefiner_unet_128.py) so configs outside this repository can
# use it too (see mmseg_refiner/configs/segrefiner_refiners.py).
_base_ = ['../../../mmseg_refiner/configs/segrefiner_unet_128.py']
