"""Make the "cocofied" LVIS val annotations: LVIS v1 masks on COCO val2017, 80 classes.

    python tools/dataset_converters/cocofy_lvis.py LVIS_V1_VAL_JSON COCO_VAL2017_JSON OUT_JSON

SegRefiner (like Boundary IoU, Cheng et al. 2021) reports COCO Mask AP and
Boundary AP against the LVIS v1 val annotations restricted to the COCO val2017
images and the 80 COCO categories, evaluated with the LVIS protocol. This
keeps the LVIS images that are COCO val2017 images (adding COCO's
``file_name``), maps LVIS categories to COCO ones by WordNet synset (the
mapping of LVIS' ``data/coco_to_synset.json``), re-ids and renames them to the
COCO ids and names (so mmdet's ``CocoDataset`` and the COCO metadata apply),
keeps the LVIS fields the protocol needs (category ``frequency``, image
``neg_category_ids`` / ``not_exhaustive_category_ids``, remapped) and adds
``iscrowd: 0`` so COCO tools read the file too.
"""
import argparse
import json
import sys
from typing import Dict, List, Tuple

from mmseg_refiner.cli.args import add_input_arg, add_output_arg, parse_checked_args
from mmseg_refiner.cli.errors import cli_main
from mmseg_refiner.fileio import write_json_atomic

#: COCO category id -> (COCO name, LVIS synsets to try in order). The first
#: synset of each is the one of LVIS' own COCO mapping; for hot dog
#: ("frank.n.02") an LVIS version without that category falls back to its
#: nearest one, "sausage.n.01".
COCO_ID_TO_SYNSETS: Dict[int, Tuple[str, Tuple[str, ...]]] = {
    1: ('person', ('person.n.01', )),
    2: ('bicycle', ('bicycle.n.01', )),
    3: ('car', ('car.n.01', )),
    4: ('motorcycle', ('motorcycle.n.01', )),
    5: ('airplane', ('airplane.n.01', )),
    6: ('bus', ('bus.n.01', )),
    7: ('train', ('train.n.01', )),
    8: ('truck', ('truck.n.01', )),
    9: ('boat', ('boat.n.01', )),
    10: ('traffic light', ('traffic_light.n.01', )),
    11: ('fire hydrant', ('fireplug.n.01', )),
    13: ('stop sign', ('stop_sign.n.01', )),
    14: ('parking meter', ('parking_meter.n.01', )),
    15: ('bench', ('bench.n.01', )),
    16: ('bird', ('bird.n.01', )),
    17: ('cat', ('cat.n.01', )),
    18: ('dog', ('dog.n.01', )),
    19: ('horse', ('horse.n.01', )),
    20: ('sheep', ('sheep.n.01', )),
    21: ('cow', ('beef.n.01', )),
    22: ('elephant', ('elephant.n.01', )),
    23: ('bear', ('bear.n.01', )),
    24: ('zebra', ('zebra.n.01', )),
    25: ('giraffe', ('giraffe.n.01', )),
    27: ('backpack', ('backpack.n.01', )),
    28: ('umbrella', ('umbrella.n.01', )),
    31: ('handbag', ('bag.n.04', )),
    32: ('tie', ('necktie.n.01', )),
    33: ('suitcase', ('bag.n.06', )),
    34: ('frisbee', ('frisbee.n.01', )),
    35: ('skis', ('ski.n.01', )),
    36: ('snowboard', ('snowboard.n.01', )),
    37: ('sports ball', ('ball.n.06', )),
    38: ('kite', ('kite.n.03', )),
    39: ('baseball bat', ('baseball_bat.n.01', )),
    40: ('baseball glove', ('baseball_glove.n.01', )),
    41: ('skateboard', ('skateboard.n.01', )),
    42: ('surfboard', ('surfboard.n.01', )),
    43: ('tennis racket', ('tennis_racket.n.01', )),
    44: ('bottle', ('bottle.n.01', )),
    46: ('wine glass', ('wineglass.n.01', )),
    47: ('cup', ('cup.n.01', )),
    48: ('fork', ('fork.n.01', )),
    49: ('knife', ('knife.n.01', )),
    50: ('spoon', ('spoon.n.01', )),
    51: ('bowl', ('bowl.n.03', )),
    52: ('banana', ('banana.n.02', )),
    53: ('apple', ('apple.n.01', )),
    54: ('sandwich', ('sandwich.n.01', )),
    55: ('orange', ('orange.n.01', )),
    56: ('broccoli', ('broccoli.n.01', )),
    57: ('carrot', ('carrot.n.01', )),
    58: ('hot dog', ('frank.n.02', 'sausage.n.01')),
    59: ('pizza', ('pizza.n.01', )),
    60: ('donut', ('doughnut.n.02', )),
    61: ('cake', ('cake.n.03', )),
    62: ('chair', ('chair.n.01', )),
    63: ('couch', ('sofa.n.01', )),
    64: ('potted plant', ('pot.n.04', )),
    65: ('bed', ('bed.n.01', )),
    67: ('dining table', ('dining_table.n.01', )),
    70: ('toilet', ('toilet.n.02', )),
    72: ('tv', ('television_receiver.n.01', )),
    73: ('laptop', ('laptop.n.01', )),
    74: ('mouse', ('mouse.n.04', )),
    75: ('remote', ('remote_control.n.01', )),
    76: ('keyboard', ('computer_keyboard.n.01', )),
    77: ('cell phone', ('cellular_telephone.n.01', )),
    78: ('microwave', ('microwave.n.02', )),
    79: ('oven', ('oven.n.01', )),
    80: ('toaster', ('toaster.n.02', )),
    81: ('sink', ('sink.n.01', )),
    82: ('refrigerator', ('electric_refrigerator.n.01', )),
    84: ('book', ('book.n.01', )),
    85: ('clock', ('clock.n.01', )),
    86: ('vase', ('vase.n.01', )),
    87: ('scissors', ('scissors.n.01', )),
    88: ('teddy bear', ('teddy.n.01', )),
    89: ('hair drier', ('hand_blower.n.01', )),
    90: ('toothbrush', ('toothbrush.n.01', )),
}

#: LVIS category fields kept next to the COCO id and name.
LVIS_CATEGORY_FIELDS = ('synset', 'synonyms', 'def', 'frequency', 'image_count', 'instance_count')
#: LVIS image fields listing category ids, remapped to COCO ids.
LVIS_IMAGE_CATEGORY_LISTS = ('neg_category_ids', 'not_exhaustive_category_ids')


def map_categories(lvis_categories: List[dict], coco_categories: List[dict]) -> Dict[int, int]:
    """LVIS category id -> COCO category id, by synset.

    Raises:
        ValueError: the COCO file's categories are not COCO's 80 (by id and name).
    """
    coco_names = {cat['id']: cat['name'] for cat in coco_categories}
    wrong = [
        f'{cid}: {coco_names.get(cid)!r} (expected {name!r})'
        for cid, (name, _) in COCO_ID_TO_SYNSETS.items() if coco_names.get(cid) != name
    ]
    if wrong:
        raise ValueError('the COCO annotation file does not have the 80 COCO categories: ' +
                         '; '.join(wrong[:5]))
    lvis_by_synset = {cat['synset']: cat['id'] for cat in lvis_categories}
    mapping = {}
    for coco_id, (_, synsets) in COCO_ID_TO_SYNSETS.items():
        found = [lvis_by_synset[s] for s in synsets if s in lvis_by_synset]
        if found:
            mapping[found[0]] = coco_id
    return mapping


def cocofy_lvis(lvis: dict, coco: dict) -> dict:
    """The cocofied LVIS annotation dict (see the module docstring).

    Args:
        lvis: LVIS v1 val annotations.
        coco: COCO val2017 instances annotations.

    Returns:
        LVIS-format annotations on COCO val images with COCO categories.
    """
    lvis_to_coco = map_categories(lvis['categories'], coco['categories'])
    coco_images = {img['id']: img for img in coco['images']}

    categories = []
    for cat in lvis['categories']:
        if cat['id'] not in lvis_to_coco:
            continue
        coco_id = lvis_to_coco[cat['id']]
        category = dict(
            id=coco_id,
            name=COCO_ID_TO_SYNSETS[coco_id][0],
            lvis_id=cat['id'],
            lvis_name=cat['name'])
        category.update({k: cat[k] for k in LVIS_CATEGORY_FIELDS if k in cat})
        categories.append(category)
    categories.sort(key=lambda cat: cat['id'])  # COCO order, as CocoDataset labels them

    images = []
    for img in lvis['images']:
        if img['id'] not in coco_images:
            continue
        image = dict(img, file_name=coco_images[img['id']]['file_name'])
        for key in LVIS_IMAGE_CATEGORY_LISTS:
            image[key] = [lvis_to_coco[c] for c in img.get(key, []) if c in lvis_to_coco]
        images.append(image)
    image_ids = {img['id'] for img in images}

    annotations = [
        dict(ann, category_id=lvis_to_coco[ann['category_id']], iscrowd=0)
        for ann in lvis['annotations']
        if ann['image_id'] in image_ids and ann['category_id'] in lvis_to_coco
    ]
    cocofied = {k: v for k, v in lvis.items() if k not in ('images', 'annotations', 'categories')}
    cocofied.update(images=images, annotations=annotations, categories=categories)
    return cocofied


def load_json(path: str, what: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as error:
        raise ValueError(f'cannot read {what} {path}: {error.strerror or error}')
    except ValueError as error:
        raise ValueError(f'{what} {path} is not valid JSON: {error}')
    missing = [
        k for k in ('images', 'annotations', 'categories')
        if not isinstance(data, dict) or k not in data
    ]
    if missing:
        raise ValueError(f'{what} {path} lacks {missing}')
    return data


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='LVIS v1 val annotations on COCO val2017 images and the 80 COCO classes')
    add_input_arg(parser, 'lvis_json', help='LVIS v1 val annotations (lvis_v1_val.json)')
    add_input_arg(parser, 'coco_json', help='COCO val2017 instances (instances_val2017.json)')
    add_output_arg(
        parser, 'out_json', formats=('.json', ), help='where to write the cocofied annotations')
    return parse_checked_args(parser, argv)


@cli_main
def main(argv=None) -> int:
    args = parse_args(argv)
    lvis = load_json(args.lvis_json, 'LVIS annotations')
    coco = load_json(args.coco_json, 'COCO annotations')
    cocofied = cocofy_lvis(lvis, coco)
    unmatched = sorted(set(COCO_ID_TO_SYNSETS) - {c['id'] for c in cocofied['categories']})
    if unmatched:
        print(
            'warning: COCO categories without an LVIS category: ' +
            ', '.join(COCO_ID_TO_SYNSETS[i][0] for i in unmatched),
            file=sys.stderr)
    write_json_atomic(args.out_json, cocofied, indent=None)
    print(f'{args.out_json}: {len(cocofied["images"])} images, '
          f'{len(cocofied["annotations"])} annotations, '
          f'{len(cocofied["categories"])} categories')
    return 0


if __name__ == '__main__':
    sys.exit(main())
