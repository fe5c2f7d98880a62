"""CocoResultsRefineDataset and its transforms on a tiny COCO-format set in tmp_path,
and the shipped test config through tools/test.py."""
import copy
import glob
import json
import mmcv
import numpy as np
import os.path as osp
import pycocotools.mask as mask_utils
import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from mmseg_refiner.datasets import CocoResultsRefineDataset
from mmseg_refiner.registry import MODELS
from mmseg_refiner.testing import TINY_DENOISER, load_script

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCoarseInstances'),
    dict(type='PackCoarseInstances'),
]
SIZES = {11: (40, 50), 12: (30, 30), 13: (20, 24)}  # image id -> (H, W)
TEST_CONFIG = 'configs/segrefiner/segrefiner_unet-128_coco-results-refine.py'


@pytest.fixture(autouse=True)
def mmseg_refiner_scope():
    """Pipelines name our transforms without a scope prefix, as configs do."""
    with DefaultScope.overwrite_default_scope('mmseg_refiner'):
        yield


def rle(mask: np.ndarray) -> dict:
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=encoded['size'], counts=encoded['counts'].decode())


def box_mask(shape, y0, y1, x0, x1) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def write_tiny_coco(root, results=None) -> dict:
    """Images, LVIS-style annotations (COCO tools read them too) and results."""
    rng = np.random.default_rng(0)
    images = []
    for img_id, (h, w) in SIZES.items():
        name = f'{img_id}.png'
        mmcv.imwrite(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), osp.join(root, 'img', name))
        images.append(
            dict(
                id=img_id,
                file_name=name,
                height=h,
                width=w,
                neg_category_ids=[],
                not_exhaustive_category_ids=[]))
    # File order 7, 3, 9: labels 0, 1, 2 (not sorted by id, on purpose).
    categories = [
        dict(id=7, name='cat', frequency='f'),
        dict(id=3, name='dog', frequency='c'),
        dict(id=9, name='cow', frequency='r')
    ]
    annotations = [
        dict(
            id=1,
            image_id=11,
            category_id=3,
            bbox=[10, 5, 30, 20],
            area=600,
            iscrowd=0,
            segmentation=[[10, 5, 40, 5, 40, 25, 10, 25]]),
        dict(
            id=2,
            image_id=12,
            category_id=9,
            bbox=[2, 2, 20, 20],
            area=400,
            iscrowd=0,
            segmentation=[[2, 2, 22, 2, 22, 22, 2, 22]]),
    ]
    ann = dict(images=images, categories=categories, annotations=annotations)
    if results is None:
        results = [
            dict(
                image_id=11,
                category_id=3,
                score=0.9,
                bbox=[10, 5, 30, 20],
                segmentation=rle(box_mask((40, 50), 5, 25, 10, 40))),
            dict(
                image_id=11,
                category_id=7,
                score=0.8,
                segmentation=rle(box_mask((40, 50), 0, 10, 0, 5))),
            dict(
                image_id=12,
                category_id=9,
                score=0.5,
                segmentation=[[2.0, 2.0, 22.0, 2.0, 22.0, 22.0, 2.0, 22.0]]),
            dict(
                image_id=11,
                category_id=7,
                score=0.1,
                segmentation=rle(np.zeros((40, 50), np.uint8))),
        ]
    paths = dict(
        ann_file=osp.join(root, 'ann.json'),
        results_file=osp.join(root, 'res.json'),
        img_dir=osp.join(root, 'img'))
    with open(paths['ann_file'], 'w') as f:
        json.dump(ann, f)
    with open(paths['results_file'], 'w') as f:
        json.dump(results, f)
    return paths


def build_dataset(paths, **kwargs):
    return CocoResultsRefineDataset(
        results_file=paths['results_file'],
        ann_file=paths['ann_file'],
        data_prefix=dict(img=paths['img_dir']),
        pipeline=PIPELINE,
        **kwargs)


def test_one_sample_per_image_with_its_decoded_detections(tmp_path):
    paths = write_tiny_coco(str(tmp_path))
    dataset = build_dataset(paths)
    assert dataset.metainfo['classes'] == ('cat', 'dog', 'cow')
    assert [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))] == [11, 12, 13]
    assert len(build_dataset(paths, skip_images_without_results=True)) == 2

    sample = dataset[0]
    assert sample['inputs'].shape == (3, 40, 50) and sample['inputs'].dtype == torch.uint8
    data_sample = sample['data_samples']
    assert data_sample.img_id == 11 and data_sample.ori_shape == (40, 50)
    pred = data_sample.pred_instances
    assert pred.labels.tolist() == [1, 0, 0]  # dog, cat, cat
    assert pred.scores.tolist() == pytest.approx([0.9, 0.8, 0.1])
    assert pred.result_indices.tolist() == [0, 1, 3]
    assert torch.equal(pred.masks[0], torch.from_numpy(box_mask((40, 50), 5, 25, 10, 40)).bool())
    # bbox given (xywh -> xyxy); from the mask (end exclusive); empty mask -> zeros.
    assert pred.bboxes.tolist() == [[10, 5, 40, 25], [0, 0, 5, 10], [0, 0, 0, 0]]
    assert pred.masks.dtype == torch.bool and pred.masks[2].sum() == 0

    polygon = dataset[1]['data_samples'].pred_instances
    assert polygon.labels.tolist() == [2] and 350 < polygon.masks[0].sum() < 450
    empty = dataset[2]['data_samples'].pred_instances
    assert len(empty) == 0 and empty.masks.shape == (0, 20, 24)


def test_labels_map_back_to_the_same_category_ids_in_coco_metric(tmp_path):
    paths = write_tiny_coco(str(tmp_path))
    dataset = build_dataset(paths)
    metric = CocoMetric(
        ann_file=paths['ann_file'],
        metric='segm',
        format_only=True,
        outfile_prefix=str(tmp_path / 'out'))
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        metric.process({}, [dataset[i]['data_samples'].to_dict()])
    metric.evaluate(len(dataset))
    written = json.loads((tmp_path / 'out.segm.json').read_text())
    original = json.loads(open(paths['results_file']).read())
    assert len(written) == len(original)
    written.sort(key=lambda r: (r['image_id'], -r['score']))
    original.sort(key=lambda r: (r['image_id'], -r['score']))
    for out, ref in zip(written, original):
        assert (out['image_id'], out['category_id']) == (ref['image_id'], ref['category_id'])
        assert out['score'] == pytest.approx(ref['score'])
        h, w = SIZES[ref['image_id']]
        ref_rle = ref['segmentation']
        if isinstance(ref_rle, list):
            ref_rle = mask_utils.merge(mask_utils.frPyObjects(ref_rle, h, w))
        assert np.array_equal(mask_utils.decode(out['segmentation']), mask_utils.decode(ref_rle))


def test_lvis_images_without_file_name_use_the_coco_url(tmp_path):
    paths = write_tiny_coco(str(tmp_path))
    ann = json.loads(open(paths['ann_file']).read())
    for image in ann['images']:
        image['coco_url'] = f'http://images.cocodataset.org/val2017/{image.pop("file_name")}'
    with open(paths['ann_file'], 'w') as f:
        json.dump(ann, f)
    dataset = build_dataset(paths)
    assert dataset.get_data_info(0)['img_path'] == osp.join(paths['img_dir'], '11.png')
    assert dataset[0]['inputs'].shape == (3, 40, 50)


def test_unknown_images_and_categories_are_listed(tmp_path):
    results = [
        dict(image_id=11, category_id=3, score=1.0, segmentation=rle(np.ones((40, 50)))),
        dict(image_id=99, category_id=3, score=1.0, segmentation=rle(np.ones((40, 50)))),
        dict(image_id=98, category_id=5, score=1.0, segmentation=rle(np.ones((40, 50)))),
        dict(image_id=11, category_id=42, score=1.0, segmentation=rle(np.ones((40, 50)))),
    ]
    paths = write_tiny_coco(str(tmp_path), results)
    with pytest.raises(ValueError) as error:
        build_dataset(paths)
    message = str(error.value)
    assert 'res.json does not match' in message and 'ann.json' in message
    assert 'image ids not in the annotation file: 98, 99' in message
    assert 'category ids not among its categories (or the chosen classes): 42, 5' in message
    # A category excluded by metainfo classes is refused the same way.
    paths = write_tiny_coco(str(tmp_path))
    with pytest.raises(ValueError, match=r'category ids .*: 9$'):
        build_dataset(paths, metainfo=dict(classes=('cat', 'dog')))
    with pytest.raises(ValueError, match='metainfo classes not in .*ann.json: horse'):
        build_dataset(paths, metainfo=dict(classes=('cat', 'horse')))


def test_malformed_records_and_files_are_named(tmp_path):
    paths = write_tiny_coco(str(tmp_path), [dict(image_id=11, category_id=3, score=1.0)])
    with pytest.raises(ValueError, match='res.json: record 0 lacks segmentation'):
        build_dataset(paths)
    paths = write_tiny_coco(str(tmp_path), dict(image_id=11))
    with pytest.raises(ValueError, match='res.json is not a COCO results file'):
        build_dataset(paths)
    paths = write_tiny_coco(
        str(tmp_path),
        [dict(image_id=12, category_id=3, score=1.0, segmentation=rle(np.ones((40, 50))))])
    with pytest.raises(ValueError, match=r'detection 0 \(image .*12.png\).*size \[40, 50\]'):
        build_dataset(paths)[1]


def test_unreadable_or_resized_images_are_named(tmp_path):
    paths = write_tiny_coco(str(tmp_path))
    with open(osp.join(paths['img_dir'], '12.png'), 'wb') as f:
        f.write(b'not an image')
    dataset = build_dataset(paths)
    with pytest.raises(Exception, match='12.png'):
        dataset[1]
    mmcv.imwrite(np.zeros((10, 10, 3), np.uint8), osp.join(paths['img_dir'], '13.png'))
    with pytest.raises(ValueError, match=r'13.png is 10x10 \(HxW\) but .* says 20x24'):
        dataset[2]


def tiny_test_config(repo_root, paths, work_dir):
    """The shipped test config on the tiny set, with a tiny network."""
    cfg = Config.fromfile(osp.join(repo_root, TEST_CONFIG))
    cfg.model.denoiser = dict(TINY_DENOISER)
    cfg.model.model_size = 32
    cfg.model.instance_refiner.min_area = 50
    dataset = cfg.test_dataloader.dataset
    dataset.update(
        data_root='',
        results_file=paths['results_file'],
        ann_file=paths['ann_file'],
        data_prefix=dict(img=paths['img_dir']))
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_evaluator[0].update(ann_file=paths['ann_file'], nproc=1)
    cfg.test_evaluator[1].update(
        ann_file=paths['ann_file'], outfile_prefix=osp.join(work_dir, 'refined'))
    cfg.work_dir = work_dir
    return cfg


def _logged_test_metrics(work_dir):
    """The test metrics the Runner's LoggerHook wrote (``<timestamp>/<timestamp>.json``)."""
    for path in sorted(glob.glob(osp.join(work_dir, '*', '*.json'))):
        for line in open(path):
            record = json.loads(line)
            if 'lvis/segm_AP' in record:
                return record
    raise AssertionError(f'no test metrics logged under {work_dir}')


def test_shipped_test_config_runs_through_tools_test(tmp_path, repo_root):
    paths = write_tiny_coco(str(tmp_path))
    work_dir = str(tmp_path / 'work')
    cfg = tiny_test_config(repo_root, paths, work_dir)
    model = MODELS.build(copy.deepcopy(cfg.model))
    checkpoint = str(tmp_path / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    config_file = str(tmp_path / 'config.py')
    cfg.dump(config_file)

    test_tool = load_script('tools/test.py')
    assert test_tool.main([config_file, checkpoint, '--work-dir', work_dir]) == 0
    metrics = _logged_test_metrics(work_dir)
    assert 0.0 <= metrics['lvis/segm_AP'] <= 1.0 and 'lvis/boundary_AP' in metrics
    written = json.loads(open(osp.join(work_dir, 'refined.segm.json')).read())
    assert sorted(r['image_id'] for r in written) == [11, 11, 11, 12]
    assert {r['category_id'] for r in written} == {3, 7, 9}
    # The detection of 600 px was refined (>= min_area 50), the 50-px one too, the empty
    # one stays empty: every written mask has its image's size.
    assert all(r['segmentation']['size'] == list(SIZES[r['image_id']]) for r in written)


def test_collated_batch_refines_through_segrefiner(tmp_path, repo_root):
    paths = write_tiny_coco(str(tmp_path))
    cfg = tiny_test_config(repo_root, paths, str(tmp_path))
    model = MODELS.build(cfg.model).eval()
    dataset = build_dataset(paths)
    outputs = model.test_step(pseudo_collate([dataset[0], dataset[1]]))
    assert [tuple(o.pred_instances.masks.shape) for o in outputs] == [(3, 40, 50), (1, 30, 30)]
    assert outputs[0].pred_instances.labels.tolist() == [1, 0, 0]
    assert not outputs[0].pred_instances.masks[2].any()
