from .refine_data_sample import RefineDataSample

__all__ = ['RefineDataSample']
