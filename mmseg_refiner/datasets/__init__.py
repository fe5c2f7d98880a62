"""Datasets and transforms. Importing registers them."""
from . import transforms  # noqa: F401
from .coarse_mask_synthesis import (CoarseMaskOptions, modify_boundary, perturb_to_iou,
                                    synthesize_coarse_mask)
from .coco_results import CocoResultsRefineDataset, LoadCoarseInstances, PackCoarseInstances
from .collate import refine_pair_collate
from .folder_datasets import BIGRefineDataset, DIS5KRefineDataset, MaskFolderDataset
from .hr_refine import HRRefineDataset
from .lvis_refine import LVISRefineDataset
from .refine_base import InvalidSampleError, RefineBaseDataset
from .synthetic import SyntheticRefineDataset, generate_synthetic_sample

__all__ = [
    'CoarseMaskOptions', 'modify_boundary', 'perturb_to_iou', 'synthesize_coarse_mask',
    'CocoResultsRefineDataset', 'LoadCoarseInstances', 'PackCoarseInstances', 'refine_pair_collate',
    'HRRefineDataset', 'BIGRefineDataset', 'DIS5KRefineDataset', 'MaskFolderDataset',
    'LVISRefineDataset', 'InvalidSampleError', 'RefineBaseDataset', 'SyntheticRefineDataset',
    'generate_synthetic_sample'
]
