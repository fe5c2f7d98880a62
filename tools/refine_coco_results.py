"""Refine the masks of saved COCO-format results with SegRefiner in instance mode.

    python tools/refine_coco_results.py RESULTS_JSON ANN_JSON IMG_DIR \\
        --config CFG --checkpoint CKPT --out OUT_JSON \\
        [--device cuda|cpu] [--precision auto|fp32|bf16|fp16] [--batch-size 32] [--seed 0] \\
        [--overwrite] [--rescore] [--cfg-options k=v ...]

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
from mmseg_refiner.apis.coco_results_job import refine_coco_results
from mmseg_refiner.cli.args import add_cfg_options_arg, add_device_precision_args
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.utils.checks import check_common_args, check_output_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Refine the masks of a COCO results JSON with SegRefiner (resumable)')
    parser.add_argument('results', help='COCO results JSON to refine')
    parser.add_argument('ann_file', help='COCO/LVIS annotation JSON (image names, categories)')
    parser.add_argument('img_dir', help='folder of the images')
    parser.add_argument('--config', required=True, help='SegRefiner config')
    parser.add_argument('--checkpoint', required=True, help='SegRefiner weights')
    parser.add_argument('--out', required=True, help='refined results JSON to write')
    add_device_precision_args(parser)
    parser.add_argument(
        '--batch-size',
        type=int,
        help="instance crops per network call (default: the config's "
        'instance_refiner.batch_size, 32 in the paper)')
    parser.add_argument('--seed', type=int, default=0, help='sampling seed (default 0)')
    parser.add_argument(
        '--overwrite', action='store_true', help='forget the progress log and redo every image')
    parser.add_argument(
        '--rescore',
        action='store_true',
        help="write score * refine_score as each record's score (default: score unchanged)")
    add_cfg_options_arg(parser)
    return parser.parse_args(argv)


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_common_args(args)
    check_output_file(args.out, [args.results, args.ann_file])
    results = fileio.load_coco_results(args.results)
    start = time.time()
    model = init_refiner(
        args.config,
        args.checkpoint,
        device=args.device,
        cfg_options=args.cfg_options,
        precision=args.precision)
    summary = refine_coco_results(model, results, args.results, args.ann_file, args.img_dir,
                                  args.out, args.checkpoint, seed=args.seed,
                                  batch_size=args.batch_size, overwrite=args.overwrite,
                                  rescore=args.rescore)
    if not results:
        print(f'{args.results} holds no detections: wrote an empty list to {args.out}')
        return 0
    if summary.changed:
        print(f'{len(summary.changed)} images changed (image file or detections) since they were '
              f'refined, refined again: image ids {", ".join(summary.changed)}')
    print(f'{args.out}: {summary.num_detections} detections on {summary.num_images} images '
          f'({summary.refined_now} refined now, {summary.from_log} from {summary.log_path}, '
          f'which had {summary.resumed}); {time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
