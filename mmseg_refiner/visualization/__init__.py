"""Pictures of what a refinement changed: a pure drawing function, an MMEngine
visualizer and the hook that uses it in validation / test runs."""
from .draw import draw_refinement
from .hook import RefinementVisualizationHook
from .visualizer import RefinementVisualizer

__all__ = ['draw_refinement', 'RefinementVisualizer', 'RefinementVisualizationHook']
