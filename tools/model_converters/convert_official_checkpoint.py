"""Convert the authors' published SegRefiner checkpoint (LR or HR) for mmseg_refiner.

Usage:
    python tools/model_converters/convert_official_checkpoint.py IN.pth OUT.pth

``IN.pth`` is opened with ``torch.load(weights_only=True)``. Every
``denoise_model.*`` tensor is renamed onto ``SegRefiner.denoiser``; the texture
loss's constant Sobel kernels (``loss_texture.*``) are dropped; the published
optimizer state and meta are not carried over. Any other key is an error.
``OUT.pth`` is an MMEngine checkpoint ``{'state_dict', 'meta'}`` for
``load_from=...`` or ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
"""
import argparse
import sys
from typing import List, Optional

from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.models.denoisers import convert_official_checkpoint
from mmseg_refiner.utils.checks import check_output_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a published SegRefiner checkpoint (mmdet-2.x fork) into an '
        'mmseg_refiner (MMEngine) checkpoint of the SegRefiner model.')
    parser.add_argument('src', help='published checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    return parser.parse_args(argv)


@cli_main
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_output_file(args.dst, inputs=[args.src], name='output')
    meta = convert_official_checkpoint(args.src, args.dst)
    print(f'converted {meta["num_tensors"]} tensors from {args.src} -> {args.dst}')
    if meta['dropped_keys']:
        print('dropped (constants of the texture loss, not learned): ' +
              ', '.join(meta['dropped_keys']))


if __name__ == '__main__':
    sys.exit(main())
