"""Pure evaluation functions: Boundary IoU / AP, COCO & LVIS protocols, IoU / mBA."""
from .boundary import (DEFAULT_DILATION_RATIO, boundary_iou, boundary_width,
                       check_boundary_settings, compute_boundary_rles, mask_to_boundary,
                       rle_to_boundary_rle)
from .coco_boundary_eval import BoundaryCOCOeval
from .instance_eval import (COCO_SUMMARY_KEYS, DEFAULT_MAX_DETS, LVIS_SUMMARY_KEYS,
                            ResultsMismatchError, check_result_ids, classwise_ap,
                            instances_to_coco_results, results_for_iou_type, run_coco_eval,
                            run_lvis_eval, summarize_eval)
from .lvis_boundary_eval import BoundaryLVISEval
from .mask_folders import FolderMatch, MaskFiles, evaluate_mask_files, match_mask_folders
from .mask_metrics import (MIN_RADIUS, NUM_RADII, RADIUS_DIVISOR, boundary_accuracy,
                           check_mba_settings, mask_iou_counts, mask_record, mba_radii,
                           summarize_mask_records)

__all__ = [
    'DEFAULT_DILATION_RATIO', 'boundary_iou', 'boundary_width', 'check_boundary_settings',
    'check_mba_settings', 'compute_boundary_rles', 'mask_to_boundary', 'rle_to_boundary_rle',
    'BoundaryCOCOeval', 'BoundaryLVISEval', 'COCO_SUMMARY_KEYS', 'DEFAULT_MAX_DETS',
    'LVIS_SUMMARY_KEYS', 'ResultsMismatchError', 'check_result_ids', 'classwise_ap',
    'instances_to_coco_results', 'results_for_iou_type', 'run_coco_eval', 'run_lvis_eval',
    'summarize_eval', 'FolderMatch', 'MaskFiles', 'evaluate_mask_files', 'match_mask_folders',
    'MIN_RADIUS', 'NUM_RADII', 'RADIUS_DIVISOR', 'boundary_accuracy', 'mask_iou_counts',
    'mask_record', 'mba_radii', 'summarize_mask_records'
]
