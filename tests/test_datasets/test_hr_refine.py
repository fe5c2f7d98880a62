"""HRRefineDataset on tiny DIS5K + ThinObject-5K trees, through the config's pipeline."""
import cv2
import numpy as np
import os.path as osp
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmseg_refiner.datasets import HRRefineDataset, InvalidSampleError
from mmseg_refiner.fileio import mask_box as mask_bbox
from mmseg_refiner.testing import registered_script, shrink_recipe, train_two_iterations

#: name -> (folder kind, height, width); thin_c is not in list/train.txt
IMAGES = {
    'dis_a': ('dis', 300, 400),
    'dis_b': ('dis', 180, 200),
    'thin_a': ('thin', 280, 260),
    'thin_b': ('thin', 320, 300),
    'thin_c': ('thin', 260, 260),
}
RED = (0, 0, 255)  # BGR


def _object_mask(height, width, seed):
    """0/255 mask: a ring with a thin bar, placed at a seed-dependent offset."""
    rng = np.random.RandomState(seed)
    mask = np.zeros((height, width), np.uint8)
    cy, cx = height // 2 + rng.randint(-20, 21), width // 2 + rng.randint(-20, 21)
    radius = min(height, width) // 4
    cv2.circle(mask, (cx, cy), radius, 255, thickness=-1)
    cv2.circle(mask, (cx, cy), radius // 2, 0, thickness=-1)
    cv2.rectangle(
        mask, (cx + radius - 2, cy - 3), (min(width - 5, cx + 2 * radius), cy + 3),
        255,
        thickness=-1)
    return mask


def _image(mask, seed):
    """Grey-green noisy background (never red); the object in pure red."""
    rng = np.random.RandomState(seed)
    img = rng.randint(60, 140, mask.shape + (3, ), dtype=np.uint8)
    img[..., 2] = img[..., 1] // 2
    img[mask > 0] = RED
    return img


def _paths(root, kind, name):
    if kind == 'dis':
        base = osp.join(root, 'DIS5K', 'DIS-TR')
        return osp.join(base, 'im', name + '.jpg'), osp.join(base, 'gt', name + '.png')
    base = osp.join(root, 'ThinObject5K')
    return osp.join(base, 'images', name + '.jpg'), osp.join(base, 'masks', name + '.png')


@pytest.fixture(scope='module')
def converter():
    with registered_script('tools/dataset_converters/make_hr_coarse_masks.py') as module:
        yield module


@pytest.fixture
def data_root(tmp_path, converter):
    """``<tmp>/data`` with DIS5K/DIS-TR and ThinObject5K trees and their offline coarse masks."""
    root = tmp_path / 'data'
    for seed, (name, (kind, height, width)) in enumerate(IMAGES.items()):
        img_path, mask_path = _paths(str(root), kind, name)
        for path in (img_path, mask_path):
            (tmp_path / osp.dirname(path)).mkdir(parents=True, exist_ok=True)
        mask = _object_mask(height, width, seed)
        cv2.imwrite(mask_path, mask)
        cv2.imwrite(img_path, _image(mask, seed), [cv2.IMWRITE_JPEG_QUALITY, 98])
    (root / 'ThinObject5K' / 'list').mkdir()
    (root / 'ThinObject5K' / 'list' / 'train.txt').write_text('thin_a.png\nthin_b\n')
    dis, thin = root / 'DIS5K' / 'DIS-TR', root / 'ThinObject5K'
    assert converter.main([str(dis / 'gt'), str(dis / 'coarse'), '--nproc', '1']) == 0
    assert converter.main([
        str(thin / 'masks'),
        str(thin / 'coarse'), '--list',
        str(thin / 'list' / 'train.txt'), '--nproc', '1'
    ]) == 0
    return root


@pytest.fixture(scope='module')
def loader_cfg(repo_root):
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs', '_base_', 'datasets', 'dis5k_thin_hr_refine.py'))
    return cfg.train_dataloader


@pytest.fixture(scope='module')
def dataset_cfg(loader_cfg):
    return loader_cfg.dataset


def _index(dataset, name):
    names = [osp.basename(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))]
    return names.index(name + '.jpg')


def _red(inputs):
    img = inputs.permute(1, 2, 0).numpy().astype(int)  # BGR
    return (img[..., 2] > 180) & (img[..., 1] < 90) & (img[..., 0] < 90)


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def test_reads_both_layouts_and_the_list_file(build):
    dataset = build()
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    names = sorted(osp.splitext(osp.basename(info['img_path']))[0] for info in infos)
    assert names == ['dis_a', 'dis_b', 'thin_a', 'thin_b']
    for info in infos:
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        assert osp.basename(info['mask_path']) == stem + '.png'
        assert [p.split(osp.sep)[-2:] for p in info['coarse_path']] == [['gt', stem + '.png'],
                                                                        ['filled', stem + '.png']]
        assert all(
            osp.exists(p) for p in [info['img_path'], info['mask_path'], *info['coarse_path']])


def test_each_sample_is_an_aligned_object_pair_and_patch_pair(build):
    dataset = build()
    np.random.seed(0)
    flips = set()
    for _ in range(3):
        for name, (kind, height, width) in IMAGES.items():
            if name == 'thin_c':
                continue
            index = _index(dataset, name)
            obj, patch = dataset[index]
            gt_full = cv2.imread(dataset.get_data_info(index)['mask_path'], 0) > 0
            box = mask_bbox(gt_full)
            for pair in (obj, patch):
                sample = pair['data_samples']
                assert pair['inputs'].shape == (3, 256, 256)
                assert sample.gt_mask.data.shape == sample.coarse_mask.data.shape == (1, 256, 256)
                gt = sample.gt_mask.data[0].numpy() > 0
                assert _iou(_red(pair['inputs']), gt) > 0.85
                coarse = sample.coarse_mask.data[0].numpy() > 0
                assert 0.3 < _iou(coarse, gt) < 1.0
                assert sample.img_path.endswith(name + '.jpg')
                assert sample.coarse_path in dataset.get_data_info(index)['coarse_path']
                flips.add(sample.flip)
            x0, y0, x1, y1 = obj['data_samples'].crop_bbox
            assert x0 <= box[0] and y0 <= box[1] and x1 >= box[2] and y1 >= box[3]
            px0, py0, px1, py1 = patch['data_samples'].crop_bbox
            side = 256 if min(height, width) >= 256 else min(height, width) // 2
            assert (px1 - px0, py1 - py0) == (side, side)
            patch_gt = patch['data_samples'].gt_mask.data.numpy()
            assert patch_gt.any() and not patch_gt.all()
    assert flips == {True, False}


def test_patch_coarse_mask_is_the_offline_crop_half_of_the_time(build):
    dataset = build()
    index = _index(dataset, 'dis_a')  # 300x400: the patch is 256x256 at full resolution
    np.random.seed(1)
    offline = []
    for _ in range(60):
        _, patch = dataset[index]
        sample = patch['data_samples']
        x0, y0, x1, y1 = sample.crop_bbox
        stored = cv2.imread(sample.coarse_path, cv2.IMREAD_GRAYSCALE)[y0:y1, x0:x1] > 0
        if sample.flip:
            stored = stored[:, ::-1]
        offline.append(np.array_equal(sample.coarse_mask.data[0].numpy() > 0, stored))
    assert 0.3 < np.mean(offline) < 0.7  # p=0.5, binomial std 0.065


def test_the_runner_batches_both_pairs_of_every_sample(build, loader_cfg):
    dataset = build()
    loader_cfg = loader_cfg.copy()
    loader_cfg.update(
        dataset=dataset,
        batch_size=3,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False))
    np.random.seed(2)
    batch = next(iter(Runner.build_dataloader(loader_cfg)))
    assert len(batch['inputs']) == len(batch['data_samples']) == 6
    paths = [sample.img_path for sample in batch['data_samples']]
    assert paths[0::2] == paths[1::2]  # object and patch of one image side by side
    assert len(set(paths)) == 3


def test_images_without_coarse_masks_are_left_out_with_a_warning(build, data_root, warnings_logged):
    missing = data_root / 'DIS5K' / 'DIS-TR' / 'coarse' / 'filled' / 'dis_b.png'
    missing.unlink()
    dataset = build()
    assert len(dataset) == 3
    assert any('dis_b.png' in m and 'make_hr_coarse_masks.py' in m for m in warnings_logged)
    for path in (data_root / 'ThinObject5K' / 'coarse' / 'gt').iterdir():
        path.unlink()
    with pytest.raises(FileNotFoundError, match='ThinObject5K/images'):
        build()


def test_bad_files_are_skipped_in_training_and_named(build, data_root, warnings_logged):
    dis = data_root / 'DIS5K' / 'DIS-TR'
    (dis / 'im' / 'dis_a.jpg').write_bytes(b'broken')
    cv2.imwrite(str(dis / 'gt' / 'dis_b.png'), np.zeros((180, 200), np.uint8))
    thin_mask = data_root / 'ThinObject5K' / 'masks' / 'thin_a.png'
    cv2.imwrite(str(thin_mask), np.full((10, 10), 255, np.uint8))
    dataset = build()
    np.random.seed(3)
    for name in ('dis_a', 'dis_b', 'thin_a'):
        obj, _ = dataset[_index(dataset, name)]
        assert obj['data_samples'].img_path.endswith('thin_b.jpg')  # the only good sample
    assert any('dis_a.jpg' in m and 'cannot decode image' in m for m in warnings_logged)
    assert any('dis_b.png' in m and 'no foreground' in m for m in warnings_logged)
    assert any('thin_a.png' in m and '10x10' in m for m in warnings_logged)

    test_set = build(test_mode=True)
    with pytest.raises(InvalidSampleError, match='dis_a.jpg'):
        test_set[_index(test_set, 'dis_a')]


def test_subset_keys_are_checked():
    with pytest.raises(ValueError, match=r"unknown keys \['image_dir'\]"):
        HRRefineDataset(subsets=[dict(image_dir='a', mask_dir='b', coarse_dir='c', img_dir='d')])


def test_the_hr_config_trains_through_the_runner(data_root, repo_root, tmp_path):
    """The paper's HR config, with a tiny network at 64x64, trains on the tiny tree."""
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs', 'segrefiner',
                 'segrefiner_unet-128_8xb8-40k_dis5k-thin-256.py'))
    shrink_recipe(cfg)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = str(data_root.parent)
    # validation on the tiny DIS-TR tree (standing in for DIS-VD), at the end of the run
    cfg.model.global_local_refiner.patch_size = 64
    cfg.val_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.val_dataloader.dataset.update(data_root=str(data_root / 'DIS5K' / 'DIS-TR'), indices=1)
    cfg.load_from = None
    cfg.visualizer.name = 'test_hr_refine_runner'
    train_two_iterations(cfg, str(tmp_path / 'work'))
