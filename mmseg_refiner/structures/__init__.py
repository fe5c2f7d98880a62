from .naming import sample_name
from .refine_data_sample import RefineDataSample

__all__ = ['RefineDataSample', 'sample_name']
