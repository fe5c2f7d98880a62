"""Refine the masks of saved COCO-format results with SegRefiner in instance mode.

    python tools/refine_coco_results.py RESULTS_JSON ANN_JSON IMG_DIR \\
        --config CFG --checkpoint CKPT --out OUT_JSON \\
        [--device cuda|cpu] [--precision auto|fp32|bf16|fp16] [--batch-size 32] [--seed 0] \\
        [--detections-per-batch 100] [--overwrite] [--rescore] [--cfg-options k=v ...]

``RESULTS_JSON`` is any model's COCO results file (``image_id``, ``category_id``,
``segmentation``, ``score``, optional ``bbox``); ``ANN_JSON`` the COCO (or LVIS)
annotation file naming its images and categories; ``IMG_DIR`` the image folder.
``CFG`` is a SegRefiner config (e.g.
``configs/segrefiner/segrefiner_unet-128_coco-results-refine.py``, whose
``instance_refiner`` settings apply) and ``CKPT`` its weights. ``OUT_JSON``
receives every input record unchanged but for its ``segmentation``, the
refined mask as a compressed RLE, and a new field ``refine_score``, the
refinement confidence of the mask (mean ``|2p - 1|`` over its boundary band, in
[0, 1]); ``score`` stays the input's unless ``--rescore`` (``score *
refine_score``). Every record is checked before the model is
loaded (``mmseg_refiner/fileio/coco_results.py``: finite scores, integer ids,
4-number boxes, valid RLEs and polygons; the error names the record's index and
field); an empty list gives ``[]``.

The data come from the config's ``test_dataloader`` (its dataset type and
``pipeline``), pointed at the three files above, and each image goes through
the model's ``test_step`` in ``'instance'`` test mode, as with ``tools/test.py``:
instance ``k`` of an image is sampled from a generator seeded from ``--seed``,
the image's file name and ``k``, so both routes give byte-identical masks and
the result depends neither on batch sizes nor on which images ran before.

Resuming uses the package's one mechanism (``mmseg_refiner/fileio/resume.py``):
``OUT_JSON.progress.jsonl`` records each finished image under the digest of its
image file and its detections (all their fields, in order), and the job under
digests of the model config, the checkpoint, the seed and the precision. An
interrupted run (Ctrl-C, a crash) is resumed by re-running the same command. An
image whose file or detections changed in the meantime is refined again (and
named), so no detection ever gets the mask of another; another config,
checkpoint, seed or precision is refused (``--overwrite`` starts afresh).
``OUT_JSON`` is written at the end, atomically; the log stays beside it, so a
re-run with unchanged inputs rewrites it without refining anything. The same job
through the MMEngine Runner (many processes, metrics) is ``tools/test.py`` with
the config above. The job itself is
:func:`mmseg_refiner.apis.coco_results_job.refine_coco_results`.
"""
import argparse
import sys
import time
from typing import List, Optional

from mmseg_refiner import fileio
from mmseg_refiner.apis import init_refiner
from mmseg_refiner.apis.coco_results_job import progress_log_path, refine_coco_results
from mmseg_refiner.cli.args import (add_cfg_options_arg, add_device_precision_args, add_input_arg,
                                    add_output_arg, check_job_paths, parse_checked_args)
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.fileio.outputs import JobPath
from mmseg_refiner.utils.checks import check_common_args, check_positive


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Refine the masks of a COCO results JSON with SegRefiner (resumable)')
    add_input_arg(parser, 'results', help='COCO results JSON to refine')
    add_input_arg(parser, 'ann_file', help='COCO/LVIS annotation JSON (image names, categories)')
    add_input_arg(parser, 'img_dir', folder=True, help='folder of the images')
    add_input_arg(parser, '--config', required=True, help='SegRefiner config')
    add_input_arg(parser, '--checkpoint', required=True, help='SegRefiner weights')
    add_output_arg(
        parser,
        '--out',
        required=True,
        formats=('.json', ),
        help='refined results JSON to write (and OUT.progress.jsonl beside it)')
    add_device_precision_args(parser)
    parser.add_argument(
        '--batch-size',
        type=int,
        help="instance crops per network call (default: the config's "
        'instance_refiner.batch_size, 32 in the paper)')
    parser.add_argument(
        '--detections-per-batch',
        type=int,
        help="most detections of an image decoded and refined at once, which bounds the "
        "memory (default: the dataset's max_instances_per_sample, 100); the masks do not "
        'depend on it')
    parser.add_argument('--seed', type=int, default=0, help='sampling seed (default 0)')
    parser.add_argument(
        '--overwrite', action='store_true', help='forget the progress log and redo every image')
    parser.add_argument(
        '--rescore',
        action='store_true',
        help="write score * refine_score as each record's score (default: score unchanged)")
    add_cfg_options_arg(parser)
    return parse_checked_args(parser, argv)


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_common_args(args)
    check_positive(args.detections_per_batch, '--detections-per-batch')
    check_job_paths(args, [JobPath('its progress log', progress_log_path(args.out))])
    results = fileio.load_coco_results(args.results)
    start = time.time()
    model = init_refiner(
        args.config,
        args.checkpoint,
        device=args.device,
        cfg_options=args.cfg_options,
        precision=args.precision)
    summary = refine_coco_results(
        model,
        results,
        args.results,
        args.ann_file,
        args.img_dir,
        args.out,
        args.checkpoint,
        seed=args.seed,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        rescore=args.rescore,
        detections_per_batch=args.detections_per_batch)
    if not results:
        print(f'{args.results} holds no detections: wrote an empty list to {args.out}')
        return 0
    if summary.changed:
        print(f'{len(summary.changed)} batches changed (image file or detections) since they were '
              f'refined, refined again: {", ".join(summary.changed)}')
    print(f'{args.out}: {summary.num_detections} detections in {summary.num_images} batches '
          f'({summary.refined_now} refined now, {summary.from_log} from {summary.log_path}, '
          f'which had {summary.resumed}); {time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
