"""Refine the demo image's coarse mask and show what changed.

    python demo/refine_demo.py [--out-dir outputs/demo]
        [--image demo/image.png --mask demo/coarse_mask.png --gt demo/gt_mask.png]
        [--config CFG --checkpoint CKPT] [--mode auto] [--seed 0] [--device cpu]

By default it uses the shipped demo model and files (see demo/README.md),
prints IoU and mBA of the coarse and of the refined mask against the ground
truth, and writes ``refined_mask.png`` (0/255) and ``refinement.png`` to
``--out-dir``: four panels, image | coarse (orange) | refined (sky blue) |
ground truth (bluish green), each mask's inside shaded and its edge outlined,
the coarse and refined captions with their IoU.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmseg_refiner.apis import MODES, init_refiner, refine, to_bgr_image, to_bool_masks
from mmseg_refiner.cli.args import (add_input_arg, add_output_arg, check_job_paths,
                                    parse_checked_args)
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.evaluation.functional import mask_record, summarize_mask_records
from mmseg_refiner.fileio import JobPath, write_image_atomic, write_mask_png
from mmseg_refiner.utils.checks import check_common_args
from mmseg_refiner.visualization import draw_refinement

DEMO_DIR = osp.dirname(osp.abspath(__file__))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Refine the demo image with the demo model')
    add_input_arg(parser, '--image', default=osp.join(DEMO_DIR, 'image.png'))
    add_input_arg(parser, '--mask', default=osp.join(DEMO_DIR, 'coarse_mask.png'))
    add_input_arg(parser, '--gt', default=osp.join(DEMO_DIR, 'gt_mask.png'))
    add_output_arg(parser, '--out-dir', folder=True, default='outputs/demo')
    add_input_arg(parser, '--config', help='model config (default: the demo model)')
    add_input_arg(parser, '--checkpoint', help='model weights (default: the demo model)')
    parser.add_argument('--mode', choices=MODES, default='auto')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    return parse_checked_args(parser, argv)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_common_args(args)
    mask_path = osp.join(args.out_dir, 'refined_mask.png')
    picture_path = osp.join(args.out_dir, 'refinement.png')
    check_job_paths(args, [JobPath('--out-dir', mask_path), JobPath('--out-dir', picture_path)])
    model = init_refiner(args.config, args.checkpoint, device=args.device)
    image = to_bgr_image(args.image)
    coarse = to_bool_masks(args.mask, image.shape[:2])[0][0]
    gt = to_bool_masks(args.gt, image.shape[:2])[0][0]
    refined = refine(
        model, image, coarse, mode=args.mode, seed=args.seed, name=osp.basename(args.image))

    scores = summarize_mask_records([mask_record(refined, gt, coarse)])
    print(f'{osp.basename(args.image)} ({image.shape[1]}x{image.shape[0]}), mode {args.mode}')
    print(f'{"":8s} {"IoU":>7s} {"mBA":>7s}')
    print(f'{"coarse":8s} {scores["coarse_iou"]:7.4f} {scores["coarse_mba"]:7.4f}')
    print(f'{"refined":8s} {scores["iou"]:7.4f} {scores["mba"]:7.4f}')

    write_mask_png(mask_path, refined)
    write_image_atomic(picture_path, draw_refinement(image, coarse, refined, gt=gt))
    print(f'written: {mask_path}, {picture_path}')


if __name__ == '__main__':
    sys.exit(main())
