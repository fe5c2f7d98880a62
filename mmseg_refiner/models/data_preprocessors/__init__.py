from .raw_batch_preprocessor import RawBatchPreprocessor
from .refiner_data_preprocessor import RefinerDataPreprocessor

__all__ = ['RawBatchPreprocessor', 'RefinerDataPreprocessor']
