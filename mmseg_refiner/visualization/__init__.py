"""Before / after pictures of a refinement: a pure drawing function and the hook
that draws validation and test samples with it."""
from .draw import draw_refinement
from .hook import RefinementVisualizationHook, sample_masks

__all__ = ['draw_refinement', 'RefinementVisualizationHook', 'sample_masks']
