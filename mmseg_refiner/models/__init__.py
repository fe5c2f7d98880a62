"""Models: the denoising network, the discrete diffusion, losses, refiners and
wrappers around upstream mmdet / mmseg models. Importing registers them."""
from . import data_preprocessors, denoisers, diffusion, losses, refiners, wrappers  # noqa: F401
