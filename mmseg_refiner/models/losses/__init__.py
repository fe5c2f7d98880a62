from .texture_loss import TextureLoss, gradient_magnitude

__all__ = ['TextureLoss', 'gradient_magnitude']
