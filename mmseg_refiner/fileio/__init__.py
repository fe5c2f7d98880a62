from .coco_results import CocoResultsError, load_coco_results, validate_coco_results
