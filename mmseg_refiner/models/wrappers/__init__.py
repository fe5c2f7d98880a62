from .refined_detector import RefinedDetector
from .refined_segmentor import RefinedSegmentor

__all__ = ['RefinedDetector', 'RefinedSegmentor']
