"""File conventions of the whole package, in one place.

Reading images (:mod:`.images`) and masks under the one mask rule
(:mod:`.masks`), COCO segmentation encode / decode / validate (:mod:`.rle`),
COCO results files checked record by record (:mod:`.coco_results`),
matching images to masks by name (:mod:`.matching`), atomic writes
(:mod:`.atomic`), the one output rule (:mod:`.outputs`: nothing written replaces or
mixes with an input) and the one resume mechanism (:mod:`.resume`). Nothing else in
the package opens a mask file or decodes an RLE.
"""
from .atomic import (PROB_PNG_BITS, current_umask, prob_to_png_values, write_bytes_atomic,
                     write_image_atomic, write_json_atomic, write_mask_png, write_prob_png)
from .coco_results import CocoResultsError, load_coco_results, validate_coco_results
from .images import IMAGE_EXTENSIONS, decode_image, read_bytes, read_image, size_mismatch
from .masks import (IGNORE_LABEL, PROB_THRESHOLD, UINT8_THRESHOLD, EmptyMaskWarning,
                    IgnoredPixelsWarning, decode_mask, mask_box, mask_boxes, mask_from_array,
                    mask_to_uint8, read_mask, warn_if_empty)
from .matching import (SkippedEntriesWarning, file_key, index_folder, match_keys,
                       with_image_extensions)
from .outputs import JobPath, OutputPathError, check_outputs
from .resume import (FOLDER_LOG_NAME, JobChangedError, ResumeLog, digest, file_digest, files_digest,
                     finished_items, json_digest, read_log, relative_name)
from .rle import (Segmentation, decode_rle, decode_segmentation, encode_mask, encode_masks,
                  rle_counts_from_string, validate_segmentation)
