from .refiner_data_preprocessor import RefinerDataPreprocessor

__all__ = ['RefinerDataPreprocessor']
