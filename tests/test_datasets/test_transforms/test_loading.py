"""Loading images, mask files and LVIS instance masks, with errors that name the file."""
import cv2
import numpy as np
import pytest

from mmseg_refiner.datasets import InvalidSampleError
from mmseg_refiner.datasets.transforms import (LoadMaskFromFile, LoadRandomInstanceMask,
                                               LoadRefineImage)
from mmseg_refiner.fileio import EmptyMaskWarning, decode_segmentation


@pytest.fixture
def image_file(tmp_path):
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, 10:] = (255, 0, 0)
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, img)
    return path, img


def test_image_is_loaded_as_bgr(image_file):
    path, img = image_file
    out = LoadRefineImage()(dict(img_path=path))
    np.testing.assert_array_equal(out['img'], img)
    assert out['img_shape'] == out['ori_shape'] == (20, 30)


def test_missing_and_corrupt_images_name_the_file(tmp_path):
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(InvalidSampleError, match='missing.jpg'):
        LoadRefineImage()(dict(img_path=missing))
    corrupt = tmp_path / 'corrupt.jpg'
    corrupt.write_bytes(b'\xff\xd8 this is not a jpeg')
    with pytest.raises(InvalidSampleError, match='corrupt.jpg'):
        LoadRefineImage()(dict(img_path=str(corrupt)))


def test_mask_follows_the_mask_rule(tmp_path, image_file):
    path, img = image_file
    stored = np.zeros((20, 30), np.uint8)
    stored[5:10, 5:10] = 127
    stored[10:15, 5:10] = 128
    stored[15:, 20:] = 255
    mask_path = str(tmp_path / 'mask.png')
    cv2.imwrite(mask_path, stored)
    out = LoadMaskFromFile()(dict(img=img, img_path=path, mask_path=mask_path))
    np.testing.assert_array_equal(out['gt_mask'], (stored >= 128).astype(np.uint8))
    cv2.imwrite(mask_path, (stored >= 128).astype(np.uint8))  # the same mask saved as 0/1
    out = LoadMaskFromFile()(dict(img=img, img_path=path, mask_path=mask_path))
    np.testing.assert_array_equal(out['gt_mask'], (stored >= 128).astype(np.uint8))


def test_mask_size_mismatch_and_empty_mask_name_the_files(tmp_path, image_file):
    path, img = image_file
    small = str(tmp_path / 'small.png')
    cv2.imwrite(small, np.full((10, 30), 255, np.uint8))
    with pytest.raises(InvalidSampleError, match=r'small\.png.*img\.png'):
        LoadMaskFromFile()(dict(img=img, img_path=path, mask_path=small))
    empty = str(tmp_path / 'empty.png')
    cv2.imwrite(empty, np.zeros((20, 30), np.uint8))
    with pytest.raises(InvalidSampleError, match='empty.png'):
        LoadMaskFromFile()(dict(img=img, img_path=path, mask_path=empty))
    with pytest.warns(EmptyMaskWarning, match='empty.png'):
        out = LoadMaskFromFile(
            key='coarse_mask', path_key='coarse_path', allow_empty=True)(
                dict(img=img, img_path=path, coarse_path=empty))
    assert not out['coarse_mask'].any()


def test_mask_is_drawn_uniformly_from_a_list_of_paths(tmp_path):
    paths = []
    for index in range(2):
        paths.append(str(tmp_path / f'coarse_{index}.png'))
        stored = np.zeros((4, 4), np.uint8)
        stored[index, :] = 255
        cv2.imwrite(paths[-1], stored)
    np.random.seed(0)
    load = LoadMaskFromFile(key='coarse_mask', path_key='coarse_path')
    chosen = []
    for _ in range(400):
        out = load(dict(coarse_path=list(paths)))
        assert out['coarse_mask'][paths.index(out['coarse_path'])].all()
        chosen.append(paths.index(out['coarse_path']))
    assert 0.42 < np.mean(chosen) < 0.58  # binomial std 0.025


def test_polygons_and_rles_rasterise_the_same_rectangle():
    polygon = [[10, 10, 20, 10, 20, 30, 10, 30]]
    mask = decode_segmentation(polygon, 40, 40)
    expected = np.zeros((40, 40), np.uint8)
    expected[10:30, 10:20] = 1
    np.testing.assert_array_equal(mask, expected)
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(expected))
    np.testing.assert_array_equal(decode_segmentation(rle, 40, 40), expected)
    # two parts of one instance are merged
    two = decode_segmentation(polygon + [[30, 0, 35, 0, 35, 5, 30, 5]], 40, 40)
    assert two.sum() == expected.sum() + 25


def test_random_instance_is_chosen_uniformly_and_checked():
    img = np.zeros((40, 40, 3), np.uint8)
    instances = [
        dict(ann_id=1, segmentation=[[0, 0, 10, 0, 10, 10, 0, 10]]),
        dict(ann_id=2, segmentation=[[20, 20, 40, 20, 40, 40, 20, 40]]),
    ]
    np.random.seed(0)
    load = LoadRandomInstanceMask()
    picked = []
    for _ in range(200):
        out = load(dict(img=img, img_path='a.jpg', height=40, width=40, instances=instances))
        assert out['gt_mask'].sum() == {1: 100, 2: 400}[out['ann_id']]
        picked.append(out['ann_id'])
    assert 0.38 < np.mean(np.array(picked) == 2) < 0.62
    with pytest.raises(InvalidSampleError, match='a.jpg'):
        load(dict(img=img, img_path='a.jpg', height=50, width=40, instances=instances))
    outside = [dict(ann_id=3, segmentation=[[100, 100, 110, 100, 110, 110]])]
    with pytest.raises(InvalidSampleError, match='annotation 3 of image a.jpg'):
        load(dict(img=img, img_path='a.jpg', instances=outside))


def test_removed_threshold_key_fails_naming_the_mask_rule():
    with pytest.raises(ValueError, match='threshold no longer exist.*mask rule'):
        LoadMaskFromFile(threshold=128)
