"""Mask AP and Boundary AP of saved instance-segmentation results.

    python tools/analysis_tools/eval_instance_results.py GT_JSON RESULTS_JSON \\
        --protocol {coco,lvis} [--iou-type segm boundary] --out METRICS.json \\
        [--max-dets N] [--dilation-ratio 0.02] [--nproc N]

``RESULTS_JSON`` is a COCO results file (``image_id``, ``category_id``,
``score``, ``segmentation`` RLE; ``bbox`` for ``--iou-type bbox``). The paper's
setting is ``--protocol lvis`` with the "cocofied" LVIS v1 val annotations
(``tools/dataset_converters/cocofy_lvis.py``) and 300 detections per image.
Prints the COCO / LVIS summaries and writes ``{iou_type}_{AP,AP50,AP75,APs,
APm,APl}`` (and ``APr, APc, APf`` for LVIS) as fractions; -1 marks a figure
with nothing to score (e.g. no small objects).
"""
import argparse
import sys
from lvis import LVIS
from pycocotools.coco import COCO
from typing import Dict, List

from mmseg_refiner.cli.args import add_input_arg, add_output_arg, parse_checked_args
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.evaluation.functional import (DEFAULT_DILATION_RATIO, DEFAULT_MAX_DETS,
                                                 check_boundary_settings, check_result_ids,
                                                 results_for_iou_type, run_coco_eval, run_lvis_eval,
                                                 summarize_eval)
from mmseg_refiner.fileio import load_coco_results, write_json_atomic
from mmseg_refiner.utils.settings import check_int

#: LVIS fields the LVIS protocol reads besides COCO's.
LVIS_IMAGE_FIELDS = ('neg_category_ids', 'not_exhaustive_category_ids')
#: Smallest ``--max-dets`` under the COCO protocol, whose maxDets are [1, 10, N].
MIN_COCO_MAX_DETS = 10


class InputError(ValueError):
    """A user-supplied file that cannot be evaluated; the message names it."""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Mask AP and Boundary AP of a COCO-format results JSON')
    add_input_arg(parser, 'gt_json', help='ground-truth annotations (COCO or LVIS format)')
    add_input_arg(parser, 'results_json', help='COCO-format results (segmentation as RLE)')
    parser.add_argument(
        '--protocol',
        required=True,
        choices=('coco', 'lvis'),
        help='evaluation protocol (the paper: lvis on cocofied LVIS val)')
    parser.add_argument(
        '--iou-type',
        nargs='+',
        default=['segm', 'boundary'],
        choices=('segm', 'boundary', 'bbox'),
        help='what to evaluate')
    add_output_arg(
        parser, '--out', required=True, formats=('.json', ), help='metrics JSON to write')
    parser.add_argument(
        '--max-dets',
        type=int,
        default=None,
        help='detections per image (default: coco 100, lvis 300)')
    parser.add_argument(
        '--dilation-ratio',
        type=float,
        default=DEFAULT_DILATION_RATIO,
        help='boundary width as a fraction of the image diagonal')
    parser.add_argument(
        '--nproc',
        type=int,
        default=None,
        help='processes extracting boundaries (default: every core)')
    args = parse_checked_args(parser, argv)
    if args.max_dets is None:
        args.max_dets = DEFAULT_MAX_DETS[args.protocol]
    check_int('eval_instance_results', '--max-dets', args.max_dets, low=1)
    check_boundary_settings('eval_instance_results --dilation-ratio/--nproc', args.dilation_ratio,
                            args.nproc)
    if args.protocol == 'coco' and args.max_dets < MIN_COCO_MAX_DETS:
        parser.error(f'--max-dets must be at least {MIN_COCO_MAX_DETS} with --protocol coco')
    return args


def load_ground_truth(path: str, protocol: str):
    """The ``COCO`` or ``LVIS`` API object of ``path``, or an ``InputError`` naming it."""
    api_class = COCO if protocol == 'coco' else LVIS
    try:
        api = api_class(path)
    except OSError as error:
        raise InputError(f'cannot read ground truth {path}: {error.strerror or error}')
    except ValueError as error:  # json.JSONDecodeError, UnicodeDecodeError
        raise InputError(f'ground truth {path} is not valid JSON: {error}')
    except (AssertionError, KeyError, TypeError) as error:
        raise InputError(f'ground truth {path} is not a {protocol.upper()}-format annotation '
                         f'file ({error!r})')
    if protocol == 'lvis':
        images = api.dataset['images']
        lacking = [f for f in LVIS_IMAGE_FIELDS if images and f not in images[0]]
        if lacking or any('frequency' not in cat for cat in api.dataset['categories']):
            raise InputError(
                f'ground truth {path} is not LVIS-format (images need {LVIS_IMAGE_FIELDS}, '
                'categories need "frequency"); use --protocol coco, or make the file with '
                'tools/dataset_converters/cocofy_lvis.py')
    return api


def load_results(path: str, iou_types: List[str]) -> List[dict]:
    """The validated result list of ``path``, or an error naming the file and record."""
    require = [
        field for field, types in (('segmentation', ('segm', 'boundary')), ('bbox', ('bbox', )))
        if set(types) & set(iou_types)
    ]
    results = load_coco_results(path, require)
    if not results:
        raise InputError(f'results {path} holds no detections: nothing to evaluate')
    return results


def evaluate(args: argparse.Namespace) -> Dict[str, float]:
    """All requested figures, ``{iou_type}_{AP...}``."""
    gt = load_ground_truth(args.gt_json, args.protocol)
    results = load_results(args.results_json, args.iou_type)
    if args.protocol == 'coco':
        img_ids, cat_ids = gt.getImgIds(), gt.getCatIds()
    else:
        img_ids, cat_ids = gt.get_img_ids(), gt.get_cat_ids()
    check_result_ids(results, img_ids, cat_ids, args.results_json, args.gt_json)

    metrics = {}
    for iou_type in args.iou_type:
        try:  # malformed entries, named by file and index, before the long part
            results_for_iou_type(results, iou_type, args.results_json)
        except ValueError as error:
            raise InputError(str(error))
        print(f'\n=== {args.protocol.upper()} protocol, {iou_type} ===', flush=True)
        if args.protocol == 'coco':
            evaluator = run_coco_eval(
                gt,
                results,
                iou_type,
                max_dets=(1, 10, args.max_dets),
                dilation_ratio=args.dilation_ratio,
                nproc=args.nproc)
        else:
            evaluator = run_lvis_eval(
                gt,
                results,
                iou_type,
                max_dets=args.max_dets,
                dilation_ratio=args.dilation_ratio,
                nproc=args.nproc)
        for key, value in summarize_eval(evaluator).items():
            metrics[f'{iou_type}_{key}'] = value
    return metrics


def print_table(metrics: Dict[str, float], iou_types: List[str]) -> None:
    keys = [k.split('_', 1)[1] for k in metrics if k.startswith(f'{iou_types[0]}_')]
    print('\n' + ' ' * 10 + ''.join(f'{k:>8}' for k in keys))
    for iou_type in iou_types:
        row = ''.join(f'{metrics[f"{iou_type}_{k}"]:>8.4f}' for k in keys)
        print(f'{iou_type:<10}{row}')


@cli_main
def main(argv=None) -> int:
    args = parse_args(argv)
    metrics = evaluate(args)
    print_table(metrics, args.iou_type)
    write_json_atomic(args.out, metrics)
    print(f'\nmetrics written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
