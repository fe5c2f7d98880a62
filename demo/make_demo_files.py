"""Regenerate the demo's image, coarse mask and ground truth from the synthetic generator.

    python demo/make_demo_files.py [--seed 2000000] [--size 256] [--out-dir demo]

The sample is :func:`generate_synthetic_sample` of a seed in the demo range
(2,000,000 and up; training uses seeds below 1,000,000 and the held-out
evaluation 1,000,000 to 1,999,999). Its coarse mask is the training-time
synthesis (the demo config's ``coarse_synthesis``: ``iou_target=0.8``,
measured against the ground truth), seeded from the sample seed exactly as the
held-out set's fixed coarse masks are. Masks are written as 0/255 PNGs.
"""
import argparse
import numpy as np
import os.path as osp
import sys
from typing import List, Optional

from mmseg_refiner.apis import demo_model_files
from mmseg_refiner.cli.args import add_output_arg, check_job_paths, parse_checked_args
from mmseg_refiner.cli.errors import UsageError, cli_main
from mmseg_refiner.datasets.synthetic import DEMO_SEED_OFFSET, SyntheticRefineDataset
from mmseg_refiner.fileio import JobPath, write_image_atomic, write_mask_png
from mmseg_refiner.utils.config_file import read_config_file

DEMO_SEED = DEMO_SEED_OFFSET
DEMO_SIZE = 256


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write the demo sample (image, coarse, gt)')
    parser.add_argument('--seed', type=int, default=DEMO_SEED)
    parser.add_argument('--size', type=int, default=DEMO_SIZE, help='side of the square image')
    add_output_arg(parser, '--out-dir', folder=True, default=osp.dirname(osp.abspath(__file__)))
    return parse_checked_args(parser, argv)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.seed < DEMO_SEED_OFFSET:
        raise UsageError(f'--seed: demo seeds start at {DEMO_SEED_OFFSET}; lower ones are '
                         'training or held-out samples')
    names = ('image.png', 'coarse_mask.png', 'gt_mask.png')
    check_job_paths(args, [JobPath('--out-dir', osp.join(args.out_dir, name)) for name in names],
                    [JobPath('the demo config',
                             demo_model_files()[0])])
    dataset = SyntheticRefineDataset(
        num_samples=1,
        image_size=args.size,
        seed_offset=args.seed,
        fixed_coarse=True,
        coarse_cfg=read_config_file(demo_model_files()[0]).coarse_synthesis,
        test_mode=True,
        pipeline=[])
    sample = dataset[0]
    write_image_atomic(osp.join(args.out_dir, 'image.png'), sample['img'])
    for key, name in (('coarse_mask', 'coarse_mask.png'), ('gt_mask', 'gt_mask.png')):
        write_mask_png(osp.join(args.out_dir, name), sample[key])
    coarse, gt = sample['coarse_mask'] > 0, sample['gt_mask'] > 0
    print(f'seed {args.seed}, {args.size}x{args.size}: coarse IoU '
          f'{np.count_nonzero(coarse & gt) / np.count_nonzero(coarse | gt):.4f} -> {args.out_dir}')


if __name__ == '__main__':
    sys.exit(main())
