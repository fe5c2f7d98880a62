"""tools/dataset_converters/cocofy_lvis.py on a tiny hand-made LVIS / COCO pair."""
import contextlib
import io
import json
import pytest
from lvis import LVIS

from mmseg_refiner.evaluation.functional import run_lvis_eval, summarize_eval
from mmseg_refiner.testing import load_script


@pytest.fixture(scope='module')
def tool():
    return load_script('tools/dataset_converters/cocofy_lvis.py')


def _square(x, y, size):
    return [[x, y, x + size, y, x + size, y + size, x, y + size]]


def _lvis_val():
    """Four LVIS categories (person, cow = beef.n.01, sausage, aerosol can: not
    COCO) over three images, of which 3 is not a COCO val2017 image."""
    categories = [
        dict(id=1, name='aerosol_can', synset='aerosol.n.02', frequency='c'),
        dict(id=50, name='sausage', synset='sausage.n.01', frequency='c'),
        dict(id=100, name='cow', synset='beef.n.01', frequency='r'),
        dict(id=800, name='person', synset='person.n.01', frequency='f'),
    ]
    images = [
        dict(
            id=10,
            height=40,
            width=40,
            coco_url='http://x/val2017/000000000010.jpg',
            neg_category_ids=[1, 100],
            not_exhaustive_category_ids=[50]),
        dict(
            id=11,
            height=40,
            width=40,
            coco_url='http://x/val2017/000000000011.jpg',
            neg_category_ids=[800],
            not_exhaustive_category_ids=[]),
        dict(
            id=12,
            height=40,
            width=40,
            coco_url='http://x/train2017/000000000012.jpg',
            neg_category_ids=[],
            not_exhaustive_category_ids=[]),
    ]

    def ann(ann_id, image_id, category_id, x):
        return dict(
            id=ann_id,
            image_id=image_id,
            category_id=category_id,
            segmentation=_square(x, 5, 10),
            area=100.0,
            bbox=[x, 5, 10, 10])

    annotations = [
        ann(1, 10, 800, 2),
        ann(2, 10, 1, 20),
        ann(3, 11, 100, 2),
        ann(4, 11, 50, 20),
        ann(5, 12, 800, 2)
    ]
    return dict(
        info=dict(description='tiny LVIS'),
        images=images,
        annotations=annotations,
        categories=categories)


def _coco_val(tool):
    return dict(
        images=[
            dict(id=10, file_name='000000000010.jpg', height=40, width=40),
            dict(id=11, file_name='000000000011.jpg', height=40, width=40)
        ],
        annotations=[],
        categories=[dict(id=i, name=name) for i, (name, _) in tool.COCO_ID_TO_SYNSETS.items()])


def test_cocofied_file_keeps_coco_images_and_classes(tool):
    out = tool.cocofy_lvis(_lvis_val(), _coco_val(tool))
    assert [img['id'] for img in out['images']] == [10, 11]
    assert out['images'][0]['file_name'] == '000000000010.jpg'
    assert [(c['id'], c['name'], c['lvis_id'], c['frequency'])
            for c in out['categories']] == [(1, 'person', 800, 'f'), (21, 'cow', 100, 'r'),
                                            (58, 'hot dog', 50, 'c')]
    assert [(a['id'], a['category_id']) for a in out['annotations']] == [(1, 1), (3, 21), (4, 58)]
    assert all(a['iscrowd'] == 0 for a in out['annotations'])
    assert out['images'][0]['neg_category_ids'] == [21]  # aerosol can dropped
    assert out['images'][0]['not_exhaustive_category_ids'] == [58]
    assert out['images'][1]['neg_category_ids'] == [1]
    assert out['info'] == dict(description='tiny LVIS')


def test_cli_output_evaluates_with_the_lvis_protocol(tool, tmp_path):
    lvis_path, coco_path = tmp_path / 'lvis.json', tmp_path / 'coco.json'
    lvis_path.write_text(json.dumps(_lvis_val()))
    coco_path.write_text(json.dumps(_coco_val(tool)))
    out = tmp_path / 'cocofied.json'
    assert tool.main([str(lvis_path), str(coco_path), str(out)]) == 0
    gt = LVIS(str(out))
    perfect = [
        dict(
            image_id=a['image_id'],
            category_id=a['category_id'],
            score=0.9,
            segmentation=gt.ann_to_rle(a)) for a in gt.dataset['annotations']
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        summary = summarize_eval(run_lvis_eval(gt, perfect, 'boundary'))
    assert summary['AP'] == pytest.approx(1.0)


def test_a_file_without_the_coco_classes_is_refused(tool, tmp_path, capsys):
    lvis_path, coco_path = tmp_path / 'lvis.json', tmp_path / 'coco.json'
    lvis_path.write_text(json.dumps(_lvis_val()))
    coco = _coco_val(tool)
    coco['categories'][0]['name'] = 'human'
    coco_path.write_text(json.dumps(coco))
    assert tool.main([str(lvis_path), str(coco_path), str(tmp_path / 'o.json')]) == 1
    assert "1: 'human' (expected 'person')" in capsys.readouterr().err
    assert not (tmp_path / 'o.json').exists()
