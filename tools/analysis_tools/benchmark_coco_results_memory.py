"""Peak memory and time of tools/refine_coco_results.py for many detections of one image.

    python tools/analysis_tools/benchmark_coco_results_memory.py [--detections 10000]
        [--size 200 200] [--batches 100 10000]

Writes one image and ``--detections`` random box-shaped detections of it (COCO
results and annotations) to a temporary folder, and a tiny random SegRefiner
(side 32, 8 channels, one reverse step: the network is not what is measured), then runs the tool
once per ``--batches`` value (``--detections-per-batch``) in a child process of
its own and prints, side by side, the child's peak resident memory
(``ru_maxrss``) and wall time. A batch as large as the detections is how the
tool ran before it refined batch by batch.
"""
import argparse
import cv2
import json
import numpy as np
import os
import os.path as osp
import pycocotools.mask as mask_utils
import subprocess
import sys
import tempfile
import time
import torch
from typing import List, Optional

from mmseg_refiner.cli.args import parse_checked_args
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.utils.settings import check_int

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(REPO, 'configs/segrefiner/segrefiner_unet-tiny_1xb8-3k_synthetic-64.py')
#: The demo config's model shrunk to a tiny network.
TINY = {
    'model.model_size': 32,
    'model.denoiser.model_channels': 8,
    'model.denoiser.channel_mult': [1, 2],
    'model.denoiser.attention_strides': [],
    'model.denoiser.norm_groups': 4,
    'model.instance_refiner.min_area': 16,
    'model.instance_refiner.timesteps': [5],  # one network call per batch of crops
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Peak RSS of refine_coco_results per batch size')
    parser.add_argument('--detections', type=int, default=10000, help='detections of the image')
    parser.add_argument('--size', type=int, nargs=2, default=[200, 200], metavar=('H', 'W'))
    parser.add_argument(
        '--batches',
        type=int,
        nargs='+',
        default=[100, 10000],
        help='--detections-per-batch values to compare')
    parser.add_argument('--seed', type=int, default=0)
    return parse_checked_args(parser, argv)


def write_job(root: str, num: int, height: int, width: int, seed: int) -> List[str]:
    """Image, annotations, results and a tiny random model; the tool's arguments."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'img'))
    cv2.imwrite(
        osp.join(root, 'img', '1.png'), rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    records = []
    for _ in range(num):
        y0, x0 = rng.integers(0, height - 8), rng.integers(0, width - 8)
        y1, x1 = y0 + rng.integers(6, height - y0 + 1), x0 + rng.integers(6, width - x0 + 1)
        mask = np.zeros((height, width), np.uint8, order='F')
        mask[y0:y1, x0:x1] = 1
        rle = mask_utils.encode(mask)
        records.append(
            dict(
                image_id=1,
                category_id=1,
                score=float(rng.random()),
                segmentation=dict(size=rle['size'], counts=rle['counts'].decode())))
    with open(osp.join(root, 'res.json'), 'w') as f:
        json.dump(records, f)
    with open(osp.join(root, 'ann.json'), 'w') as f:
        json.dump(
            dict(
                images=[dict(id=1, file_name='1.png', height=height, width=width)],
                annotations=[],
                categories=[dict(id=1, name='a')]), f)
    from mmseg_refiner.apis import init_refiner
    torch.manual_seed(seed)
    model = init_refiner(DEMO_CONFIG, cfg_options=TINY)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.2)
    model.cfg.dump(osp.join(root, 'tiny.py'))
    torch.save(dict(state_dict=model.state_dict()), osp.join(root, 'tiny.pth'))
    return [
        osp.join(root, 'res.json'),
        osp.join(root, 'ann.json'),
        osp.join(root, 'img'), '--config',
        osp.join(root, 'tiny.py'), '--checkpoint',
        osp.join(root, 'tiny.pth'), '--precision', 'fp32'
    ]


def measure(tool_args: List[str], out: str, batch: int) -> tuple:
    """``(peak RSS in MiB, seconds)`` of one run of the tool in a fresh child process."""
    code = ('import resource, sys, runpy; sys.argv = sys.argv[1:]; '
            'status = 0\n'
            'try:\n    runpy.run_path(sys.argv[0], run_name="__main__")\n'
            'except SystemExit as e:\n    status = e.code or 0\n'
            'print("MAXRSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); '
            'sys.exit(status)')
    start = time.time()
    proc = subprocess.run([
        sys.executable, '-c', code,
        osp.join(REPO, 'tools', 'refine_coco_results.py'), *tool_args, '--out', out,
        '--detections-per-batch',
        str(batch)
    ],
                          capture_output=True,
                          text=True,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    seconds = time.time() - start
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        return None, seconds, ' | '.join(tail)
    maxrss = [
        int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith('MAXRSS')
    ]
    return maxrss[-1] / 1024, seconds, ''


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_int('benchmark', '--detections', args.detections, low=1)
    for batch in args.batches:
        check_int('benchmark', '--batches', batch, low=1)
    with tempfile.TemporaryDirectory() as root:
        tool_args = write_job(root, args.detections, *args.size, args.seed)
        print(f'{args.detections} detections of one {args.size[0]}x{args.size[1]} image, tiny '
              f'random model, one process each')
        print(f'{"detections per batch":>22} {"peak RSS (MiB)":>15} {"seconds":>8}')
        for batch in args.batches:
            rss, seconds, failure = measure(tool_args, osp.join(root, f'out_{batch}.json'), batch)
            shown = f'{rss:15.0f}' if rss is not None else f'{"failed":>15}'
            print(f'{batch:>22} {shown} {seconds:8.1f}' + (f'  {failure}' if failure else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
