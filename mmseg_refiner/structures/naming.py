"""Naming a sample in error messages."""
from typing import Optional, Sequence


def sample_name(data_samples: Optional[Sequence], index: int) -> str:
    """The image path of sample ``index`` when known, else its batch position."""
    if data_samples is not None and index < len(data_samples):
        path = data_samples[index].metainfo.get('img_path')
        if path is not None:
            return path
    return f'sample {index} of the batch'
