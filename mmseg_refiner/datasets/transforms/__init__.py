from .formatting import PackRefineInputs

__all__ = ['PackRefineInputs']
