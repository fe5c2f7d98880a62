from .coarse_mask import GenerateCoarseMask
from .crop import RandomObjectCrop, RandomPatchCrop
from .formatting import PackRefineInputs
from .geometric import RefineRandomFlip, RefineResize
from .loading import LoadMaskFromFile, LoadRandomInstanceMask, LoadRefineImage
from .wrappers import PairBranches

__all__ = [
    'PackRefineInputs', 'RandomObjectCrop', 'RandomPatchCrop', 'RefineRandomFlip', 'RefineResize',
    'LoadMaskFromFile', 'LoadRandomInstanceMask', 'LoadRefineImage', 'PairBranches',
    'GenerateCoarseMask'
]
