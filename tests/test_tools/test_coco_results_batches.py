"""tools/refine_coco_results.py refines an image's detections batch by batch (bounded memory)
and the refined masks do not depend on the batching: byte-identical outputs for batches of
1, 2 and all detections, and the same masks as the API refining the whole list at once."""
import cv2
import json
import numpy as np
import pycocotools.mask as mask_utils

from mmseg_refiner.apis import init_refiner, refine
from mmseg_refiner.testing import DEMO_CHECKPOINT, DEMO_CONFIG, load_script

coco_tool = load_script('tools/refine_coco_results.py')
SHAPE = (48, 64)


def _set(root, num=5):
    images = root / 'img'
    images.mkdir()
    image = np.random.default_rng(0).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)
    cv2.imwrite(str(images / '1.png'), image)
    records, masks = [], []
    for k in range(num):
        mask = np.zeros(SHAPE, np.uint8, order='F')
        mask[4 + k:30 + k, 6 + 2 * k:40 + 3 * k] = 1
        rle = mask_utils.encode(mask)
        masks.append(mask.astype(bool))
        records.append(
            dict(
                image_id=1,
                category_id=1,
                score=0.9 - k / 10,
                segmentation=dict(size=rle['size'], counts=rle['counts'].decode())))
    (root / 'ann.json').write_text(
        json.dumps(
            dict(
                images=[dict(id=1, file_name='1.png', height=SHAPE[0], width=SHAPE[1])],
                annotations=[],
                categories=[dict(id=1, name='a')])))
    (root / 'res.json').write_text(json.dumps(records))
    return images, image, np.stack(masks)


def test_batches_do_not_change_the_masks(tmp_path, capsys):
    images, image, masks = _set(tmp_path)
    outputs = []
    for batch in (1, 2, 5):
        out = tmp_path / f'out_{batch}.json'
        status = coco_tool.main([
            str(tmp_path / 'res.json'),
            str(tmp_path / 'ann.json'),
            str(images), '--config', DEMO_CONFIG, '--checkpoint', DEMO_CHECKPOINT, '--out',
            str(out), '--precision', 'fp32', '--detections-per-batch',
            str(batch), '--cfg-options', 'model.instance_refiner.min_area=16'
        ])
        assert status == 0, capsys.readouterr().err
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    model = init_refiner(
        DEMO_CONFIG,
        DEMO_CHECKPOINT,
        precision='fp32',
        cfg_options={'model.instance_refiner.min_area': 16})
    expected = refine(model, image, list(masks), mode='instance', seed=0, name='1.png')
    refined = [mask_utils.decode(r['segmentation']).astype(bool) for r in json.loads(outputs[0])]
    np.testing.assert_array_equal(np.stack(refined), expected)
    assert (np.stack(refined) != masks).any()  # refining changed something
