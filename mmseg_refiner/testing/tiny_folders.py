"""Tiny image / mask folders on disk in the layouts of BIG and DIS5K."""
import cv2
import numpy as np
import os
import os.path as osp


def write_sample(img_path, mask_paths, shape, seed):
    """An image with a square object, and its mask (0/255) at each of ``mask_paths``."""
    rng = np.random.default_rng(seed)
    h, w = shape
    img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:3 * h // 4, w // 5:w // 2 + seed] = 255
    img[mask > 0] += 150
    for path in [img_path, *mask_paths]:
        os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(img_path, img)
    for path in mask_paths:
        cv2.imwrite(path, mask)
    return mask > 0


def make_big_tree(root, shapes=((40, 60), (50, 30), (36, 36))):
    """BIG layout: test/<n>_im.jpg, test/<n>_gt.png; coarse/deeplab/<n>_seg.png."""
    masks = {}
    for index, shape in enumerate(shapes):
        name = f'img{index}'
        masks[name] = write_sample(
            osp.join(root, 'test', f'{name}_im.jpg'), [
                osp.join(root, 'test', f'{name}_gt.png'),
                osp.join(root, 'coarse', 'deeplab', f'{name}_seg.png')
            ], shape, index)
    return masks


def make_dis5k_tree(root, subsets=('DIS-VD', 'DIS-TE1')):
    """DIS5K layout: <subset>/im/<n>.jpg, <subset>/gt/<n>.png; coarse/<subset>/<n>.png."""
    for s, subset in enumerate(subsets):
        for index in range(2):
            name = f'{subset.lower()}_{index}'
            write_sample(
                osp.join(root, subset, 'im', f'{name}.jpg'), [
                    osp.join(root, subset, 'gt', f'{name}.png'),
                    osp.join(root, 'coarse', subset, f'{name}.png')
                ], (30 + s, 40), index)
