"""Refine the mask of an image, or every mask of a folder, with SegRefiner.

One image::

    python tools/refine.py IMAGE MASK --out OUT.png [--probs PROBS.png] [--vis VIS.png]
        [--vis-probs] [--probs-bits 8|16] [--gt GT.png]
        [--config CFG --checkpoint CKPT] [--mode auto|instance|global_local]
        [--device cuda|cpu] [--precision auto|fp32|bf16|fp16] [--seed 0]

A folder (masks matched to images by name: ``IMAGE_DIR/<stem><img-suffix>`` goes
with ``MASK_DIR/<stem><mask-suffix>``, a suffix without an image extension such as
``_seg`` taking any, and is written to ``OUT_DIR/<stem><out-suffix>``)::

    python tools/refine.py IMAGE_DIR MASK_DIR --out OUT_DIR [--probs PROBS_DIR] [--vis VIS_DIR]
        [--img-suffix _im.jpg] [--mask-suffix _seg.png] [--out-suffix .png] [--overwrite]

A folder run (:func:`mmseg_refiner.apis.folder_job.refine_folder`) reads its data
through ``MaskFolderDataset`` with the pipeline of the model config's
``test_dataloader`` when that is a ``MaskFolderDataset``, else of
``configs/_base_/datasets/mask_folder_refine.py``; samples are seeded by their
image's file name, so ``tools/test.py`` on a config with that dataset gives the
same PNGs. Masks are read under the package's one mask rule
(``mmseg_refiner/fileio/masks.py``: 0/1 and 0/255 alike, JPEG noise ignored,
palette PNGs by index); two images of one stem (``a.jpg`` and ``a.png``) and a
missing mask are errors named before any work starts, as are an output folder
that is, contains or lies inside an input folder and an output file that is an
input. Errors are printed as ``error: ...`` (``mmseg_refiner/cli/errors.py``).

Without ``--config``/``--checkpoint`` the shipped demo model is used. Refined
masks are written as 0/255 uint8 PNGs (with ``--probs`` also the refined
probability, an 8-bit grey PNG of value ``round(255 p)``, ``--probs-bits 16``:
``round(65535 p)``; ``mmseg_refiner/apis/outputs.py``), atomically (a temporary file in the
target folder, then ``os.replace``): an interrupted run never leaves a
half-written file. A folder run resumes with the package's one resume mechanism
(``mmseg_refiner/fileio/resume.py``): ``OUT_DIR/.segrefiner-progress.jsonl``
records each finished image by the digest of its image and mask files, so a
re-run skips exactly the images whose inputs and output are unchanged, refines
again those whose inputs were edited, and refuses to mix in results of another
model, checkpoint, seed, precision or mode (``--overwrite`` starts afresh). A
folder run ends with a summary of done / skipped / failed files (with reasons) and exits
with status 1 when anything failed.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmseg_refiner.apis import MODES, demo_model_files, init_refiner
from mmseg_refiner.apis.folder_job import refine_file, refine_folder, score_masks
from mmseg_refiner.apis.outputs import OutputPaths
from mmseg_refiner.cli.args import (add_cfg_options_arg, add_device_precision_args, add_input_arg,
                                    add_output_arg, parse_checked_args)
from mmseg_refiner.cli.errors import UsageError, cli_main
from mmseg_refiner.fileio import IMAGE_EXTENSIONS
from mmseg_refiner.utils.checks import check_common_args


def _folder_run(args: argparse.Namespace) -> bool:
    """Whether the outputs are folders: the inputs are."""
    return osp.isdir(args.image)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Refine masks with SegRefiner (one image, or a folder of images)')
    add_input_arg(parser, 'image', folder='auto', help='an image file, or a folder of images')
    add_input_arg(
        parser, 'mask', folder='auto', help='its coarse mask file, or the folder of coarse masks')
    add_output_arg(
        parser,
        '--out',
        required=True,
        folder=_folder_run,
        formats=('.png', ),
        help='refined mask file (PNG), or the output folder')
    add_output_arg(
        parser,
        '--probs',
        folder=_folder_run,
        formats=('.png', ),
        help='also write the refined probability (file, or folder): a grey PNG, value v '
        'meaning p = v / 255 (v / 65535 with --probs-bits 16)')
    parser.add_argument(
        '--probs-bits', type=int, choices=(8, 16), default=8, help='bit depth of --probs')
    add_output_arg(
        parser,
        '--vis',
        folder=_folder_run,
        formats=IMAGE_EXTENSIONS,
        help='also write a picture of the change (file, or folder)')
    parser.add_argument(
        '--vis-probs', action='store_true', help='add a heat map of the probability to --vis')
    add_input_arg(
        parser,
        '--gt',
        help='ground-truth mask (one image only): print IoU and mBA '
        'of the coarse and the refined mask against it, and draw it in --vis')
    add_input_arg(parser, '--config', help='model config (default: the demo model)')
    add_input_arg(parser, '--checkpoint', help='model weights (default: the demo model)')
    add_cfg_options_arg(parser)
    parser.add_argument(
        '--mode',
        choices=MODES,
        default='auto',
        help="'instance': crop-refine-paste at the model resolution; 'global_local': "
        "global pass plus full-resolution local patches; 'auto': global_local when the "
        "image's longer side is more than 4x the model size")
    add_device_precision_args(parser)
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the reverse diffusion (same seed, same output)')
    parser.add_argument(
        '--img-suffix',
        help='folder run: image file names end with this '
        '(default: any image extension, see mmseg_refiner.fileio.IMAGE_EXTENSIONS)')
    parser.add_argument(
        '--mask-suffix',
        default='.png',
        help='folder run: mask of <stem> is <stem><mask-suffix>; a suffix without an image '
        'extension (e.g. _seg) takes any image extension')
    parser.add_argument(
        '--out-suffix', default='.png', help='folder run: output of <stem> is <stem><out-suffix>')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='folder run: forget the progress log and refine every image again')
    args = parse_checked_args(parser, argv)
    if args.checkpoint is not None and args.config is None:
        parser.error('--checkpoint needs --config (leave both out for the demo model)')
    if args.vis_probs and not args.vis:
        parser.error('--vis-probs needs --vis')
    return args


def print_scores(scores: Dict[str, float]) -> None:
    """Print the figures of :func:`score_masks` as a small table."""
    print(f'{"":8s} {"IoU":>7s} {"mBA":>7s}')
    print(f'{"coarse":8s} {scores["coarse_iou"]:7.4f} {scores["coarse_mba"]:7.4f}')
    print(f'{"refined":8s} {scores["iou"]:7.4f} {scores["mba"]:7.4f}')


def run_folder(model, args: argparse.Namespace) -> int:
    """Refine every image of a folder; return the exit status (1 if any failed)."""
    summary = refine_folder(
        model,
        args.image,
        args.mask,
        args.out,
        checkpoint=args.checkpoint if args.config else demo_model_files()[1],
        vis_dir=args.vis,
        mode=args.mode,
        seed=args.seed,
        img_suffix=args.img_suffix,
        mask_suffix=args.mask_suffix,
        out_suffix=args.out_suffix,
        overwrite=args.overwrite,
        probs_dir=args.probs,
        probs_bits=args.probs_bits,
        vis_probs=args.vis_probs)
    if summary.changed:
        print(f'inputs changed since they were refined, refined again: '
              f'{", ".join(summary.changed)}')
    print(f'done: {len(summary.done)}, skipped (already refined from the same files): '
          f'{len(summary.skipped)}, failed: {len(summary.failed)} -> {args.out}')
    for name, reason in summary.failed:
        print(f'  failed {name}: {reason}')
    return 1 if summary.failed else 0


def run_single(model, args: argparse.Namespace) -> int:
    """Refine one image's mask; return the exit status."""
    image, coarse, refined, gt = refine_file(model, args.image, args.mask,
                                             OutputPaths(args.out, args.probs, args.vis), args.mode,
                                             args.seed, args.gt, args.probs_bits, args.vis_probs)
    print(f'refined mask written to {args.out}' +
          (f', probability to {args.probs}' if args.probs else '') +
          (f', picture to {args.vis}' if args.vis else ''))
    if gt is not None:
        print_scores(score_masks(coarse, refined, gt))
    return 0


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_common_args(args)
    image_is_dir, mask_is_dir = osp.isdir(args.image), osp.isdir(args.mask)
    if image_is_dir != mask_is_dir:
        for path, what in ((args.image, 'image'), (args.mask, 'mask')):
            if not osp.exists(path):  # a missing input, not two kinds of paths
                raise FileNotFoundError(f'{what} {path} does not exist')
        raise UsageError(f'give two files or two folders; got {args.image} '
                         f'({"folder" if image_is_dir else "file"}) and {args.mask} '
                         f'({"folder" if mask_is_dir else "file"})')
    if image_is_dir and args.gt is not None:
        raise UsageError('--gt is for one image; score folders with '
                         'tools/analysis_tools/eval_mask_folders.py')
    if not image_is_dir and osp.realpath(args.image) == osp.realpath(args.mask):
        raise UsageError(f'{args.mask} is both the image and the coarse mask: give the mask '
                         f'file of the image')
    if image_is_dir and not args.out_suffix.lower().endswith('.png'):
        raise UsageError(f'--out-suffix {args.out_suffix}: refined masks are written as PNG '
                         f'(a lossy format would change them); end it with .png')
    # the output rule ran on every path when the arguments were parsed; image-stem clashes
    # and outputs of a folder run are checked by the folder dataset (fileio.matching, outputs)

    model = init_refiner(
        args.config,
        args.checkpoint,
        device=args.device,
        cfg_options=args.cfg_options,
        precision=args.precision)
    if image_is_dir:
        return run_folder(model, args)
    return run_single(model, args)


if __name__ == '__main__':
    sys.exit(main())
