"""Builders of tiny COCO / LVIS ground truths and results for the evaluation tests."""
import json
import numpy as np
import pycocotools.mask as mask_utils


def rle(mask: np.ndarray) -> dict:
    """JSON-ready compressed RLE of a binary mask."""
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=encoded['size'], counts=encoded['counts'].decode())


def box_mask(shape, y0, x0, height, width) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[y0:y0 + height, x0:x0 + width] = 1
    return mask


def coco_gt(image_shapes: dict, instances: list, num_categories: int = 1) -> dict:
    """COCO annotation dict.

    Args:
        image_shapes: ``{image_id: (height, width)}``.
        instances: ``(image_id, category_id, mask)`` or
            ``(image_id, category_id, mask, iscrowd)`` tuples.
        num_categories: Categories ``1..num_categories`` named ``c1``...
    """
    annotations = []
    for ann_id, (image_id, category_id, mask, *crowd) in enumerate(instances, start=1):
        encoded = rle(mask)
        annotations.append(
            dict(
                id=ann_id,
                image_id=image_id,
                category_id=category_id,
                segmentation=encoded,
                area=float(mask.sum()),
                bbox=mask_utils.toBbox(encoded).tolist(),
                iscrowd=int(crowd[0]) if crowd else 0))
    return dict(
        images=[
            dict(id=i, height=h, width=w, file_name=f'{i}.jpg')
            for i, (h, w) in image_shapes.items()
        ],
        annotations=annotations,
        categories=[dict(id=c, name=f'c{c}') for c in range(1, num_categories + 1)])


def lvis_gt(coco: dict, frequencies=('f', 'c', 'r')) -> dict:
    """LVIS version of :func:`coco_gt`'s dict that behaves like exhaustive COCO.

    Every category absent from an image is in its ``neg_category_ids`` (so no
    detection is filtered out) and none is "not exhaustive".
    """
    cat_ids = [c['id'] for c in coco['categories']]
    present = {}
    for ann in coco['annotations']:
        present.setdefault(ann['image_id'], set()).add(ann['category_id'])
    images = [
        dict(
            img,
            neg_category_ids=[c for c in cat_ids if c not in present.get(img['id'], ())],
            not_exhaustive_category_ids=[]) for img in coco['images']
    ]
    categories = [
        dict(cat, frequency=frequencies[i % len(frequencies)])
        for i, cat in enumerate(coco['categories'])
    ]
    return dict(coco, images=images, categories=categories)


def result(image_id: int, category_id: int, mask: np.ndarray, score: float) -> dict:
    return dict(image_id=image_id, category_id=category_id, segmentation=rle(mask), score=score)


def write_json(path, obj) -> str:
    with open(path, 'w') as f:
        json.dump(obj, f)
    return str(path)


#: 64x64 images: the boundary width is round(0.02 * 90.5) = 2 pixels.
EDGE_SHAPE = (64, 64)


def perfect_and_shifted():
    """Two images with one 30x30 square each: one detected exactly (score 0.9),
    one with the same square shifted 2 px sideways (score 0.8).

    The shifted detection has the right area but wrong edges: mask IoU
    840/960 = 0.875, boundary IoU (2-px rings) 112/336 = 1/3. So it matches at
    the 8 mask thresholds 0.50..0.85 and at no boundary threshold. With one
    true and one missed object, AP at a threshold is 1 when both match and
    51/101 (recall 0.5 reached at 51 of COCO's 101 recall points) otherwise:
    Mask AP = (8 + 2 * 51/101) / 10, Boundary AP = 51/101.

    Returns:
        ``(coco ground truth dict, results, expected mask AP, expected boundary AP)``.
    """
    square = box_mask(EDGE_SHAPE, 10, 10, 30, 30)
    shifted = box_mask(EDGE_SHAPE, 10, 12, 30, 30)
    gt = coco_gt({1: EDGE_SHAPE, 2: EDGE_SHAPE}, [(1, 1, square), (2, 1, square)])
    results = [result(1, 1, square, 0.9), result(2, 1, shifted, 0.8)]
    half = 51 / 101
    return gt, results, (8 + 2 * half) / 10, half
