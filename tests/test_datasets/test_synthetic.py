"""The synthetic refinement set: generator, dataset and its base config."""
import cv2
import numpy as np
import os.path as osp
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from skimage.measure import euler_number, label
from skimage.morphology import skeletonize

from mmseg_refiner.datasets import SyntheticRefineDataset, generate_synthetic_sample
from mmseg_refiner.datasets.coarse_mask_synthesis import CoarseMaskOptions, synthesize_coarse_mask
from mmseg_refiner.datasets.synthetic import EVAL_SEED_OFFSET, TEXTURE_SOURCES, load_texture
from mmseg_refiner.registry import DATASETS


@pytest.fixture(scope='module')
def samples():
    return [generate_synthetic_sample(seed, (128, 160)) for seed in range(20)]


def test_textures_ship_with_scikit_image():
    for name in TEXTURE_SOURCES:
        texture = load_texture(name)
        assert texture.dtype == np.uint8 and texture.ndim == 3 and texture.shape[2] == 3
        assert min(texture.shape[:2]) >= 150


def test_sample_format(samples):
    for sample in samples:
        assert sample['img'].shape == (128, 160, 3) and sample['img'].dtype == np.uint8
        assert sample['gt_mask'].shape == (128, 160) and sample['gt_mask'].dtype == np.uint8
        assert set(np.unique(sample['gt_mask'])) == {0, 1}
    square = generate_synthetic_sample(0, 48)
    assert square['img'].shape == (48, 48, 3)


def test_deterministic_per_seed_and_different_across_seeds(samples):
    again = generate_synthetic_sample(5, (128, 160))
    np.testing.assert_array_equal(again['img'], samples[5]['img'])
    np.testing.assert_array_equal(again['gt_mask'], samples[5]['gt_mask'])
    masks = {sample['gt_mask'].tobytes() for sample in samples}
    images = {sample['img'].tobytes() for sample in samples}
    assert len(masks) == len(images) == len(samples)


def test_same_seed_gives_the_same_layout_at_any_size():
    ious = []
    for seed in range(8):
        small = generate_synthetic_sample(seed, (128, 128))['gt_mask']
        large = generate_synthetic_sample(seed, (512, 512))['gt_mask']
        shrunk = cv2.resize(large, (128, 128), interpolation=cv2.INTER_NEAREST)
        ious.append(np.count_nonzero(small & shrunk) / np.count_nonzero(small | shrunk))
    assert np.mean(ious) > 0.8


def test_objects_have_holes_and_thin_parts():
    with_holes = with_thin_parts = 0
    for seed in range(20):
        mask = generate_synthetic_sample(seed, (256, 256))['gt_mask']
        # Euler number = components - holes (8-connected foreground).
        if euler_number(mask, connectivity=2) < label(mask, connectivity=2).max():
            with_holes += 1
        # Skeleton pixels at most 1.5 px from the background: parts <= 3 px wide.
        distance = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
        if np.count_nonzero(skeletonize(mask.astype(bool)) & (distance <= 1.5)) >= 20:
            with_thin_parts += 1
    assert with_holes >= 10
    assert with_thin_parts >= 8


def test_the_image_shows_the_object(samples):
    distinct = 0
    for sample in samples:
        inside = sample['gt_mask'].astype(bool)
        colour_in = sample['img'][inside].mean(axis=0)
        colour_out = sample['img'][~inside].mean(axis=0)
        distinct += np.linalg.norm(colour_in - colour_out) > 20
    assert distinct >= 0.9 * len(samples)


def test_bad_seed_or_size():
    with pytest.raises(ValueError, match='seed'):
        generate_synthetic_sample(-1)
    with pytest.raises(ValueError, match='8x8'):
        generate_synthetic_sample(0, (4, 64))


def pack_pipeline(fixed: bool):
    stages = [] if fixed else [dict(type='GenerateCoarseMask', iou_target=0.8)]
    return stages + [dict(type='PackRefineInputs')]


def test_dataset_length_and_packed_samples():
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        dataset = DATASETS.build(
            dict(
                type='SyntheticRefineDataset',
                num_samples=5,
                image_size=(64, 80),
                seed_offset=100,
                pipeline=pack_pipeline(fixed=False)))
    assert len(dataset) == 5
    packed = dataset[3]
    assert packed['inputs'].shape == (3, 64, 80) and packed['inputs'].dtype == torch.uint8
    data_sample = packed['data_samples']
    assert data_sample.gt_mask.data.shape == (1, 64, 80)
    assert data_sample.coarse_mask.data.shape == (1, 64, 80)
    assert data_sample.sample_idx == 3
    assert data_sample.img_path == 'synthetic/seed_103.png'
    expected = generate_synthetic_sample(103, (64, 80))
    np.testing.assert_array_equal(data_sample.gt_mask.data.numpy()[0], expected['gt_mask'])
    np.testing.assert_array_equal(packed['inputs'].numpy().transpose(1, 2, 0), expected['img'])
    assert dataset.metainfo['classes'] == ('object', )


def test_seed_offset_shifts_the_samples():
    shifted = SyntheticRefineDataset(num_samples=2, image_size=48, seed_offset=10)
    base = SyntheticRefineDataset(num_samples=12, image_size=48)
    np.testing.assert_array_equal(shifted[1]['gt_mask'], base[11]['gt_mask'])
    assert shifted[1]['seed'] == 11


def test_fixed_coarse_masks_are_deterministic_per_sample():
    dataset = SyntheticRefineDataset(
        num_samples=3,
        image_size=96,
        seed_offset=EVAL_SEED_OFFSET,
        fixed_coarse=True,
        coarse_cfg=dict(iou_target=0.7),
        lazy_init=True)
    assert len(dataset) == 3
    np.random.seed(0)
    first = dataset[1]
    np.random.seed(1)
    again = dataset[1]
    np.testing.assert_array_equal(first['coarse_mask'], again['coarse_mask'])
    assert not np.array_equal(first['coarse_mask'], dataset[2]['coarse_mask'])
    # The synthesis with the given options (the reference stopping rule by
    # default), seeded from the sample seed.
    expected = synthesize_coarse_mask(
        first['gt_mask'],
        CoarseMaskOptions(iou_target=0.7),
        rng=np.random.default_rng([EVAL_SEED_OFFSET + 1, 1]))
    np.testing.assert_array_equal(first['coarse_mask'], expected)
    by_truth = SyntheticRefineDataset(
        num_samples=3,
        image_size=96,
        seed_offset=EVAL_SEED_OFFSET,
        fixed_coarse=True,
        coarse_cfg=dict(iou_target=0.7, iou_reference='ground_truth'),
        lazy_init=True)[1]
    truth, coarse = by_truth['gt_mask'], by_truth['coarse_mask']
    assert np.count_nonzero(truth & coarse) / np.count_nonzero(truth | coarse) < 0.7
    assert not np.array_equal(coarse, expected)


def test_online_coarse_masks_change_between_fetches():
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        dataset = SyntheticRefineDataset(
            num_samples=1, image_size=96, pipeline=[dict(type='GenerateCoarseMask')])
    first, second = dataset[0], dataset[0]
    np.testing.assert_array_equal(first['gt_mask'], second['gt_mask'])
    assert not np.array_equal(first['coarse_mask'], second['coarse_mask'])


def test_base_config_builds_working_dataloaders(repo_root):
    config = Config.fromfile(osp.join(repo_root, 'configs/_base_/datasets/synthetic_refine.py'))
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        for loader in (config.train_dataloader, config.val_dataloader):
            dataset_cfg = dict(loader.dataset, num_samples=2, image_size=(64, 64))
            dataset = DATASETS.build(dataset_cfg)
            packed = dataset[0]
            assert packed['inputs'].shape == (3, 64, 64)
            assert packed['data_samples'].coarse_mask.data.shape == (1, 64, 64)
    assert config.val_dataloader.dataset.seed_offset >= 1_000_000
    assert config.train_dataloader.dataset.seed_offset == 0
