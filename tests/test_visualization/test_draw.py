"""draw_refinement: panels side by side, shaded interiors and boundaries in the right colours,
enlargement of small images, captions outside the image."""
import numpy as np
import pytest

from mmseg_refiner.visualization import draw_refinement
from mmseg_refiner.visualization.draw import (CHANGE_COLOURS, DIM, GAP, INSTANCE_COLOURS,
                                              MIN_PANEL_SIDE, PANEL_COLOURS, mask_iou, panel_scale)


def _masks(shape=(40, 50)):
    coarse = np.zeros(shape, bool)
    coarse[10:30, 10:30] = True
    refined = np.zeros(shape, bool)
    refined[12:34, 14:40] = True
    return coarse, refined


def _panel(picture, index, shape, scale):
    """Panel ``index`` (0 = image) of a picture, without its caption strip."""
    height, width = shape[0] * scale, shape[1] * scale
    left = index * (width + GAP)
    return picture[-height:, left:left + width]


def _caption_log(monkeypatch) -> list:
    from mmseg_refiner.visualization import draw
    captions = []
    captioned = draw._captioned
    monkeypatch.setattr(
        draw, '_captioned',
        lambda panel, caption: captions.append(caption) or captioned(panel, caption))
    return captions


def test_small_images_are_enlarged_by_an_integer_factor():
    assert panel_scale((40, 50)) == np.ceil(MIN_PANEL_SIDE / 50)
    assert panel_scale((4000, 3000)) == 0.2
    assert panel_scale((500, 600)) == 1.0


def test_panels_show_image_coarse_refined_and_ground_truth():
    shape = (40, 50)
    image = np.full((*shape, 3), 100, np.uint8)
    coarse, refined = _masks(shape)
    gt = np.zeros(shape, bool)
    gt[12:34, 14:38] = True
    picture = draw_refinement(image, coarse, refined, gt)
    scale = int(panel_scale(shape))
    assert picture.shape[1] == 4 * shape[1] * scale + 3 * GAP
    assert picture.shape[0] > shape[0] * scale  # the caption strip sits above
    np.testing.assert_array_equal(_panel(picture, 0, shape, scale), 100)  # the image itself
    for index, (name, mask) in enumerate(
        (('coarse', coarse), ('refined', refined), ('ground truth', gt)), start=1):
        panel = _panel(picture, index, shape, scale).astype(int)
        colour = np.array(PANEL_COLOURS[name])
        inside = panel[(20 * scale, 25 * scale)] if name == 'coarse' else panel[(25 * scale,
                                                                                 30 * scale)]
        outside = panel[2, 2]
        np.testing.assert_array_equal(outside, [80, 80, 80])  # dimmed, not shaded
        expected_inside = np.round(0.55 * 80 + 0.45 * colour)
        np.testing.assert_allclose(inside, expected_inside, atol=1)  # interior shaded
        top = np.argmax(mask.any(axis=1)) * scale
        left = np.argmax(mask.any(axis=0)) * scale
        np.testing.assert_array_equal(panel[top, left + 5 * scale], colour)  # boundary
    # nothing of the picture is the legend over the image: the image panel is untouched
    assert mask_iou(coarse[None], gt[None]) == pytest.approx(
        (coarse & gt).sum() / (coarse | gt).sum())


def test_instances_keep_their_colour_before_and_after():
    shape = (40, 50)
    image = np.zeros((*shape, 3), np.uint8)
    coarse = np.zeros((2, *shape), bool)
    coarse[0, 5:15, 5:15] = True
    coarse[1, 20:35, 25:45] = True
    refined = coarse.copy()
    refined[0, 5:18, 5:18] = True
    picture = draw_refinement(image, coarse, refined)
    scale = int(panel_scale(shape))
    for panel_index in (1, 2):
        panel = _panel(picture, panel_index, shape, scale)
        for instance, (y, x) in enumerate(((5, 10), (20, 35))):
            np.testing.assert_array_equal(panel[y * scale, x * scale], INSTANCE_COLOURS[instance])


def test_shapes_are_checked():
    image = np.zeros((8, 9, 3), np.uint8)
    with pytest.raises(ValueError, match='coarse masks have shape'):
        draw_refinement(image, np.zeros((9, 8)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match='2 coarse but 1 refined'):
        draw_refinement(image, np.zeros((2, 8, 9)), np.zeros((8, 9)))
    assert draw_refinement(np.zeros((8, 9), np.uint8), np.zeros((8, 9)), np.ones((8, 9))).ndim == 3


def test_a_reduced_high_resolution_image_gets_a_full_resolution_detail():
    from mmseg_refiner.visualization.draw import DETAIL_SIDE, MAX_PANEL_SIDE, detail_window
    shape = (1800, 2400)  # reduced to a third in the first row
    coarse = np.zeros(shape, bool)
    coarse[300:1500, 300:2100] = True
    refined = coarse.copy()
    refined[1000:1100, 2100:2300] = True  # the only change: a thin part the coarse mask lacks
    y0, y1, x0, x1 = detail_window(coarse ^ refined, DETAIL_SIDE)
    assert (y1 - y0, x1 - x0) == (DETAIL_SIDE, DETAIL_SIDE)
    assert y0 <= 1000 and 1100 <= y1 and x0 <= 2100 and 2300 <= x1  # the change is inside
    picture = draw_refinement(np.zeros((*shape, 3), np.uint8), coarse, refined)
    first_row = round(shape[0] * MAX_PANEL_SIDE / shape[1])
    assert picture.shape[0] > first_row + DETAIL_SIDE  # a second row, at full resolution
    assert picture.shape[1] == 3 * MAX_PANEL_SIDE + 2 * GAP


def test_the_changes_panel_paints_added_and_removed_pixels_and_counts_them(monkeypatch):
    captions = _caption_log(monkeypatch)
    shape = (40, 50)
    coarse, refined = _masks(shape)
    picture = draw_refinement(np.full((*shape, 3), 100, np.uint8), coarse, refined, changes=True)
    scale = int(panel_scale(shape))
    assert picture.shape[1] == 4 * shape[1] * scale + 3 * GAP
    panel = _panel(picture, 3, shape, scale)
    added, removed = refined & ~coarse, coarse & ~refined
    kept = np.round(100 * DIM * 0.6)
    for y, x in ((0, 0), (20, 20), (33, 39), (10, 10)):  # outside, kept, added, removed
        colour = CHANGE_COLOURS['added'] if added[y, x] else CHANGE_COLOURS['removed'] if removed[
            y, x] else (kept, ) * 3
        np.testing.assert_array_equal(panel[y * scale, x * scale], colour)
    assert captions[-1] == f'changes: +{added.sum()} px (blue) -{removed.sum()} px (red)'
    assert (added.sum(), removed.sum()) == (22 * 26 - 18 * 16, 20 * 20 - 18 * 16)


def test_a_two_class_label_maps_changes_are_those_of_its_object_mask(monkeypatch):
    captions = _caption_log(monkeypatch)
    shape = (40, 50)
    image = np.full((*shape, 3), 100, np.uint8)
    coarse, refined = _masks(shape)
    binary = draw_refinement(image, coarse, refined, changes=True)
    stacks = [np.stack([~m, m]) for m in (coarse, refined)]
    labels = draw_refinement(
        image, *stacks, paired_gt=True, names=['Background', 'car'], changes=True, legend=False)
    scale = int(panel_scale(shape))
    np.testing.assert_array_equal(_panel(labels, 3, shape, scale), _panel(binary, 3, shape, scale))
    assert captions[3] == captions[-1] == 'changes: +284 px (blue) -112 px (red)'


def test_a_label_maps_changes_are_added_removed_and_relabelled(monkeypatch):
    captions = _caption_log(monkeypatch)
    shape = (40, 50)
    coarse = np.zeros(shape, np.int64)  # background 0, cat 1, dog 2
    coarse[:, 20:] = 1
    coarse[:, 40:] = 2
    refined = coarse.copy()
    refined[:10, 15:20] = 1  # background -> cat: added
    refined[10:20, 20:25] = 0  # cat -> background: removed
    refined[20:, 35:40] = 2  # cat -> dog: relabelled
    stacks = [np.stack([m == c for c in range(3)]) for m in (coarse, refined)]
    image = np.full((*shape, 3), 100, np.uint8)
    scale = int(panel_scale(shape))
    kept = (np.round(100 * DIM * 0.6), ) * 3
    for names, expected in (
        (['background', 'cat', 'dog'], {
            (5, 17): CHANGE_COLOURS['added'],
            (15, 22): CHANGE_COLOURS['removed'],
            (30, 37): INSTANCE_COLOURS[2],
            (30, 30): kept
        }),
        (
            ['sky', 'cat', 'dog'],
            {  # no background: every change is a relabelling
                (5, 17): INSTANCE_COLOURS[1],
                (15, 22): INSTANCE_COLOURS[0],
                (30, 37): INSTANCE_COLOURS[2],
                (30, 30): kept
            })):
        picture = draw_refinement(
            image, *stacks, paired_gt=True, names=names, changes=True, legend=False)
        panel = _panel(picture, 3, shape, scale)
        for (y, x), colour in expected.items():
            np.testing.assert_array_equal(panel[y * scale, x * scale], colour)
    assert captions[3] == ('changes: +50 px (blue) -50 px (red), '
                           'relabelled 100 px (new class colour)')
    assert captions[-1] == 'changes: relabelled 200 px (new class colour)'


def test_label_maps_count_the_classes_present_in_each_panel(monkeypatch):
    captions = _caption_log(monkeypatch)
    shape = (40, 50)
    coarse, refined = _masks(shape)
    # classes: background, object; the ground truth holds only the background
    stacks = [np.stack([~m, m]) for m in (coarse, refined)]
    gt = np.stack([np.ones(shape, bool), np.zeros(shape, bool)])
    draw_refinement(
        np.zeros((*shape, 3), np.uint8), *stacks, gt, paired_gt=True, names=['sky', 'car'])
    assert [c.split('  ')[0] for c in captions
            ] == ['image', 'coarse (2 classes)', 'refined (2 classes)', 'ground truth (1 class)']


def test_probability_panel_is_a_heat_map_on_request():
    import cv2
    shape = (40, 50)
    image = np.full((*shape, 3), 100, np.uint8)
    coarse, refined = _masks(shape)
    prob = np.zeros(shape, np.float32)
    prob[12:34, 14:40] = 1.0
    prob[20, 20] = 0.5
    picture = draw_refinement(image, coarse, refined, prob=prob)
    scale = int(panel_scale(shape))
    assert picture.shape[1] == 4 * shape[1] * scale + 3 * GAP
    heat = _panel(picture, 3, shape, scale)
    viridis = cv2.applyColorMap(np.array([[0, 128, 255]], np.uint8), cv2.COLORMAP_VIRIDIS)[0]
    assert (heat[0, 0] == viridis[0]).all()  # probability 0
    assert (heat[20 * scale, 20 * scale] == viridis[1]).all()  # 0.5 -> 128
    assert (heat[13 * scale, 15 * scale] == viridis[2]).all()  # 1
    with pytest.raises(ValueError, match='prob has shape'):
        draw_refinement(image, coarse, refined, prob=np.zeros((4, 4)))


def test_a_caption_longer_than_its_panel_is_set_smaller_to_fit():
    from mmseg_refiner.visualization.draw import BACKGROUND, _captioned
    panel = np.zeros((20, 300, 3), np.uint8)
    caption = 'changes: +650 px (blue) -400 px (red), relabelled 200 px (new class colour)'
    short, long = _captioned(panel, 'ok'), _captioned(panel, caption)
    assert short.shape == long.shape  # every caption strip has the same height
    strip = long[:-20]
    inked = np.flatnonzero((strip != BACKGROUND).any(axis=(0, 2)))
    assert inked.size and inked[0] >= 2 and inked[-1] <= 297  # nothing cut at either edge
