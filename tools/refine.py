"""Refine the mask of an image, or every mask of a folder, with SegRefiner.

One image::

    python tools/refine.py IMAGE MASK --out OUT.png [--vis VIS.png] [--gt GT.png]
        [--config CFG --checkpoint CKPT] [--mode auto|instance|semantic]
        [--device cpu] [--seed 0]

A folder (masks matched to images by name: ``IMAGE_DIR/<stem><img-suffix>`` goes
with ``MASK_DIR/<stem><mask-suffix>`` and is written to
``OUT_DIR/<stem><out-suffix>``)::

    python tools/refine.py IMAGE_DIR MASK_DIR --out OUT_DIR [--vis VIS_DIR]
        [--img-suffix _im.jpg] [--mask-suffix _seg.png] [--out-suffix .png] [--overwrite]

Without ``--config``/``--checkpoint`` the shipped demo model is used. Refined
masks are written as 0/255 uint8 PNGs, atomically (a temporary file in the
target folder, then ``os.replace``): an interrupted run never leaves a
half-written file, and a re-run skips images whose output exists (unless
``--overwrite``). A folder run ends with a summary of done / skipped / failed
files (with reasons) and exits with status 1 when anything failed.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

from mmengine.config import DictAction

from mmseg_refiner.utils.checks import (check_common_args, check_distinct_outputs,
                                        check_output_file, check_output_folder)
from mmseg_refiner.utils.cli import cli_main

#: Image extensions a folder run picks up when ``--img-suffix`` is not given.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Refine masks with SegRefiner (one image, or a folder of images)')
    parser.add_argument('image', help='an image file, or a folder of images')
    parser.add_argument('mask', help='its coarse mask file, or the folder of coarse masks')
    parser.add_argument(
        '--out', required=True, help='refined mask file (PNG), or the output folder')
    parser.add_argument('--vis', help='also write a picture of the change (file, or folder)')
    parser.add_argument(
        '--gt',
        help='ground-truth mask (one image only): print IoU and mBA '
        'of the coarse and the refined mask against it')
    parser.add_argument('--config', help='model config (default: the demo model)')
    parser.add_argument('--checkpoint', help='model weights (default: the demo model)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs')
    parser.add_argument(
        '--mode',
        choices=['auto', 'instance', 'semantic'],
        default='auto',
        help="'instance': crop-refine-paste at the model resolution (the paper's "
        "LR setting); 'semantic': global pass plus full-resolution local "
        "patches (HR); 'auto': semantic when the image's longer side is more "
        'than 4x the model size')
    parser.add_argument('--device', default='cpu', help="e.g. 'cpu' or 'cuda:0'")
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the reverse diffusion (same seed, same output)')
    parser.add_argument(
        '--img-suffix',
        help='folder run: image file names end with this '
        f'(default: any of {" ".join(IMAGE_EXTENSIONS)})')
    parser.add_argument(
        '--mask-suffix', default='.png', help='folder run: mask of <stem> is <stem><mask-suffix>')
    parser.add_argument(
        '--out-suffix', default='.png', help='folder run: output of <stem> is <stem><out-suffix>')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='folder run: refine again images whose output exists')
    args = parser.parse_args(argv)
    if args.checkpoint is not None and args.config is None:
        parser.error('--checkpoint needs --config (leave both out for the demo model)')
    return args


def refine_file(model,
                image_path: str,
                mask_path: str,
                out_path: str,
                mode: str,
                seed: Optional[int],
                vis_path: Optional[str] = None) -> Tuple:
    """Refine one image's mask and write the result (and the picture).

    Returns:
        ``(image, coarse, refined)`` as arrays (BGR image, bool masks).
    """
    from mmseg_refiner.apis import (refine, to_bgr_image, to_bool_masks, to_uint8_mask,
                                    write_image_atomic)
    from mmseg_refiner.visualization import draw_refinement
    image = to_bgr_image(image_path)
    coarse = to_bool_masks(mask_path, image.shape[:2])[0][0]
    refined = refine(model, image, coarse, mode=mode, seed=seed)
    if vis_path is not None:
        write_image_atomic(vis_path, draw_refinement(image, coarse, refined))
    write_image_atomic(out_path, to_uint8_mask(refined))
    return image, coarse, refined


def score_masks(coarse, refined, gt) -> Dict[str, float]:
    """IoU and mBA of the coarse and the refined mask against the ground truth."""
    from mmseg_refiner.evaluation.functional import mask_record, summarize_mask_records
    return summarize_mask_records([mask_record(refined, gt, coarse)])


def print_scores(scores: Dict[str, float]) -> None:
    """Print the figures of :func:`score_masks` as a small table."""
    print(f'{"":8s} {"IoU":>7s} {"mBA":>7s}')
    print(f'{"coarse":8s} {scores["coarse_iou"]:7.4f} {scores["coarse_mba"]:7.4f}')
    print(f'{"refined":8s} {scores["iou"]:7.4f} {scores["mba"]:7.4f}')


def list_pairs(args: argparse.Namespace) -> List[Tuple[str, str, str]]:
    """``(stem, image_path, mask_path)`` of every image in the image folder, sorted by name."""
    pairs = []
    for name in sorted(os.listdir(args.image)):
        path = osp.join(args.image, name)
        if not osp.isfile(path):
            continue
        if args.img_suffix is not None:
            if not name.endswith(args.img_suffix):
                continue
            stem = name[:-len(args.img_suffix)]
        else:
            stem, ext = osp.splitext(name)
            if ext.lower() not in IMAGE_EXTENSIONS:
                continue
        pairs.append((stem, path, osp.join(args.mask, stem + args.mask_suffix)))
    return pairs


def run_folder(model, args: argparse.Namespace) -> int:
    """Refine every image of a folder; return the exit status (1 if any failed)."""
    from tqdm import tqdm
    pairs = list_pairs(args)
    if not pairs:
        wanted = args.img_suffix or ' / '.join(IMAGE_EXTENSIONS)
        print(f'error: no images ending with {wanted} in {args.image}', file=sys.stderr)
        return 1
    done, skipped, failed = [], [], []
    progress = tqdm(pairs, desc='refining', unit='img')
    for stem, image_path, mask_path in progress:
        out_path = osp.join(args.out, stem + args.out_suffix)
        vis_path = osp.join(args.vis, stem + '.png') if args.vis else None
        finished = osp.exists(out_path) and (vis_path is None or osp.exists(vis_path))
        if finished and not args.overwrite:
            skipped.append(stem)
        elif not osp.isfile(mask_path):
            failed.append((osp.basename(image_path), f'no mask {mask_path}'))
        else:
            try:
                refine_file(model, image_path, mask_path, out_path, args.mode, args.seed, vis_path)
                done.append(stem)
            except Exception as err:  # one bad file must not stop the others
                reason = str(err) if isinstance(err, (ValueError, OSError)) else repr(err)
                failed.append((osp.basename(image_path), reason))
        progress.set_postfix(done=len(done), skipped=len(skipped), failed=len(failed))
    progress.close()
    print(f'done: {len(done)}, skipped (output exists): {len(skipped)}, failed: {len(failed)}'
          f' -> {args.out}')
    for name, reason in failed:
        print(f'  failed {name}: {reason}')
    return 1 if failed else 0


def run_single(model, args: argparse.Namespace) -> int:
    """Refine one image's mask; return the exit status."""
    image, coarse, refined = refine_file(model, args.image, args.mask, args.out, args.mode,
                                         args.seed, args.vis)
    print(f'refined mask written to {args.out}' + (f', picture to {args.vis}' if args.vis else ''))
    if args.gt is not None:
        from mmseg_refiner.apis import to_bool_masks
        gt = to_bool_masks(args.gt, image.shape[:2])[0][0]
        print_scores(score_masks(coarse, refined, gt))
    return 0


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_common_args(args)
    image_is_dir, mask_is_dir = osp.isdir(args.image), osp.isdir(args.mask)
    if image_is_dir != mask_is_dir:
        print(
            f'error: give two files or two folders; got {args.image} '
            f'({"folder" if image_is_dir else "file"}) and {args.mask} '
            f'({"folder" if mask_is_dir else "file"})',
            file=sys.stderr)
        return 2
    if image_is_dir and args.gt is not None:
        print(
            'error: --gt is for one image; score folders with '
            'tools/analysis_tools/eval_mask_folders.py',
            file=sys.stderr)
        return 2
    if image_is_dir:
        check_output_folder(args.out, [args.image, args.mask])
        if args.vis:
            check_output_folder(args.vis, [args.image, args.mask, args.out], '--vis')
        check_distinct_outputs([(stem + args.out_suffix, image_path)
                                for stem, image_path, _ in list_pairs(args)])
    else:
        check_output_file(args.out, [args.image, args.mask, args.gt])
        if args.vis:
            check_output_file(args.vis, [args.image, args.mask, args.gt, args.out], '--vis')

    from mmseg_refiner.apis import init_refiner
    model = init_refiner(
        args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options)
    if image_is_dir:
        return run_folder(model, args)
    return run_single(model, args)


if __name__ == '__main__':
    sys.exit(main())
