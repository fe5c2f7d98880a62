from .discrete_mask_diffusion import DiscreteMaskDiffusion

__all__ = ['DiscreteMaskDiffusion']
