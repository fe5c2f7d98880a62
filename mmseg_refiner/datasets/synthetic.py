"""A synthetic refinement set: procedurally generated objects on photographs.

Every sample is a function of one integer seed: an object made of a body
(union of ellipses or a star polygon), thick curved limbs, thin strokes,
holes and sometimes a detached blob, with foreground and background textured
from two different photographs that ship inside scikit-image's wheel (no
download). The ground truth is the exact drawn mask, so the object boundary
is visible in the image pixel for pixel. Used by tests, the demo model and
quick CPU experiments; any size works, so it serves training at the model
resolution and on large images (a large ``image_size``, cropped) alike.

Seed ranges (``seed = seed_offset + index``) keep the sets apart:
training uses ``TRAIN_SEED_OFFSET`` (0), held-out evaluation
``EVAL_SEED_OFFSET`` (1,000,000) and the demo ``DEMO_SEED_OFFSET``
(2,000,000), so up to a million samples per set never overlap.
"""
import cv2
import numpy as np
import skimage.data
from functools import lru_cache
from mmengine.dataset import BaseDataset
from typing import Optional, Sequence, Tuple, Union

from mmseg_refiner.registry import DATASETS
from mmseg_refiner.utils.settings import check_int, check_ints
from .coarse_mask_synthesis import CoarseMaskOptions, synthesize_coarse_mask

TRAIN_SEED_OFFSET = 0
EVAL_SEED_OFFSET = 1_000_000
DEMO_SEED_OFFSET = 2_000_000

# skimage.data photographs stored inside the wheel (checked offline with
# scikit-image 0.26; e.g. ``eagle`` or ``lily`` would need a download).
# Grey ones are tinted per sample, so they serve as coloured textures too.
TEXTURE_SOURCES: Tuple[str,
                       ...] = ('astronaut', 'coffee', 'chelsea', 'rocket', 'immunohistochemistry',
                               'camera', 'coins', 'grass', 'gravel', 'brick', 'moon')

# If the mean colours of the object and the background are closer than this
# (Euclidean distance in 0..255 BGR), both are shifted apart to reach it.
MIN_MEAN_COLOUR_DISTANCE = 40.0
# Gaussian blur of the composite (pixels): the boundary looks like an edge
# in a photograph rather than a pasted cut-out; the ground truth stays exact.
EDGE_BLUR_SIGMA = 0.7

Size = Union[int, Sequence[int]]


def _as_size(size: Size) -> Tuple[int, int]:
    """``(H, W)`` from an int (square) or a pair; at least 8 pixels a side."""
    height, width = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if int(height) < 8 or int(width) < 8:
        raise ValueError(f'synthetic samples need a size of at least 8x8, got {size}')
    return int(height), int(width)


@lru_cache(maxsize=None)
def load_texture(name: str) -> np.ndarray:
    """A photograph shipped with scikit-image as ``HxWx3`` uint8 BGR."""
    image = np.asarray(getattr(skimage.data, name)())
    if image.dtype != np.uint8:
        raise ValueError(f'skimage.data.{name} is {image.dtype}, not an 8-bit photograph')
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., 2::-1])


def _random_texture(rng: np.random.Generator, name: str, size: Tuple[int, int]) -> np.ndarray:
    """A random crop of a photograph, resized to ``size``, flipped and tinted.

    Returns:
        np.ndarray: ``HxWx3`` uint8 BGR.
    """
    height, width = size
    source = load_texture(name)
    source_height, source_width = source.shape[:2]
    fit = min(source_height / height, source_width / width)
    zoom = rng.uniform(0.35, 1.0)
    crop_height = max(2, int(height * fit * zoom))
    crop_width = max(2, int(width * fit * zoom))
    top = int(rng.integers(0, source_height - crop_height + 1))
    left = int(rng.integers(0, source_width - crop_width + 1))
    crop = source[top:top + crop_height, left:left + crop_width]
    shrinking = crop_height > height
    texture = cv2.resize(
        crop, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        texture = cv2.flip(texture, 1)
    gains = rng.uniform(0.6, 1.25, 3)
    return cv2.transform(texture, np.diag(gains))


def _point(xy: np.ndarray) -> Tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def _draw_body(mask: np.ndarray, rng: np.random.Generator, centre: np.ndarray,
               scale: float) -> None:
    """The object's body: a union of 1-3 ellipses or a star-shaped polygon."""
    if rng.random() < 0.5:
        for _ in range(int(rng.integers(1, 4))):
            ellipse_centre = centre + rng.normal(0.0, 0.08 * scale, 2)
            axes = rng.uniform(0.12, 0.32, 2) * scale
            angle = float(rng.uniform(0.0, 180.0))
            cv2.ellipse(mask, _point(ellipse_centre), _point(axes), angle, 0, 360, 1, -1)
    else:
        num_vertices = int(rng.integers(5, 13))
        angles = np.sort(rng.uniform(0.0, 2 * np.pi, num_vertices))
        radii = rng.uniform(0.15, 0.38, num_vertices) * scale
        vertices = centre + radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        cv2.fillPoly(mask, [np.round(vertices).astype(np.int32)], 1)


def _draw_curves(mask: np.ndarray, rng: np.random.Generator, centre: np.ndarray, scale: float,
                 count: int, length_range: Tuple[float, float],
                 thickness_range: Tuple[float, float]) -> None:
    """``count`` quadratic Bezier strokes leaving the body's centre region.

    Lengths and thicknesses are fractions of ``scale``; a stroke is at least
    one pixel thick.
    """
    for _ in range(count):
        start = centre + rng.normal(0.0, 0.05 * scale, 2)
        direction = rng.uniform(0.0, 2 * np.pi)
        length = rng.uniform(*length_range) * scale
        end = start + length * np.array([np.cos(direction), np.sin(direction)])
        control = (start + end) / 2 + rng.normal(0.0, 0.15 * scale, 2)
        steps = np.linspace(0.0, 1.0, 24)[:, None]
        curve = ((1 - steps)**2 * start + 2 * (1 - steps) * steps * control + steps**2 * end)
        thickness = max(1, int(round(rng.uniform(*thickness_range) * scale)))
        cv2.polylines(mask, [np.round(curve).astype(np.int32)], False, 1, thickness)


def _punch_holes(mask: np.ndarray, rng: np.random.Generator, scale: float, count: int) -> None:
    """Cut ``count`` elliptic holes, each enclosed by foreground.

    A hole is centred on a pixel farther from the background than its larger
    semi-axis plus a margin, so it does not open onto the outside.
    """
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    margin = max(2.0, 0.01 * scale)
    for _ in range(count):
        major = rng.uniform(0.025, 0.07) * scale
        minor = major * rng.uniform(0.4, 1.0)
        angle = float(rng.uniform(0.0, 180.0))
        pick = rng.random()
        candidates = np.flatnonzero(distance > major + margin)
        if candidates.size == 0:
            continue
        row, col = divmod(int(candidates[int(pick * candidates.size)]), mask.shape[1])
        cv2.ellipse(mask, (col, row), _point(np.array([major, minor])), angle, 0, 360, 0, -1)


def _draw_object(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """The ground-truth mask: body, thick limbs, holes, thin strokes, blob."""
    height, width = size
    scale = float(min(height, width))
    mask = np.zeros((height, width), np.uint8)
    centre = np.array([width, height]) * rng.uniform(0.38, 0.62, 2)
    _draw_body(mask, rng, centre, scale)
    _draw_curves(mask, rng, centre, scale, int(rng.integers(0, 4)), (0.25, 0.5), (0.03, 0.07))
    _punch_holes(mask, rng, scale, int(rng.integers(0, 4)))
    _draw_curves(mask, rng, centre, scale, int(rng.integers(1, 5)), (0.3, 0.55), (0.004, 0.012))
    if rng.random() < 0.3:
        blob_centre = np.array([width, height]) * rng.uniform(0.1, 0.9, 2)
        axes = rng.uniform(0.03, 0.08, 2) * scale
        cv2.ellipse(mask, _point(blob_centre), _point(axes), float(rng.uniform(0, 180)), 0, 360, 1,
                    -1)
    return mask


def _separate_colours(foreground: np.ndarray, background: np.ndarray, mask: np.ndarray,
                      rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Shift both textures apart if their mean colours are close."""
    inside = cv2.mean(foreground, mask=mask)[:3]
    outside = cv2.mean(background, mask=1 - mask)[:3]
    difference = np.subtract(inside, outside)
    distance = float(np.linalg.norm(difference))
    if distance >= MIN_MEAN_COLOUR_DISTANCE:
        return foreground, background
    direction = difference / distance if distance > 0 else rng.normal(size=3)
    shift = (MIN_MEAN_COLOUR_DISTANCE - distance) / 2 * direction / np.linalg.norm(direction)
    shift = (*shift.tolist(), 0.0)
    return cv2.add(foreground, shift), cv2.subtract(background, shift)


def generate_synthetic_sample(seed: int, size: Size = (256, 256)) -> dict:
    """One synthetic sample, a pure function of ``seed`` and ``size``.

    Shapes are drawn in units of the shorter side, so the same seed gives the
    same layout at any size (thin strokes are at least one pixel thick).

    Args:
        seed (int): non-negative sample seed.
        size (int | Sequence[int]): ``(H, W)``, or one int for a square.

    Returns:
        dict: ``img`` (``HxWx3`` uint8 BGR) and ``gt_mask`` (``HxW`` uint8
        {0, 1}, non-empty).
    """
    if int(seed) != seed or seed < 0:
        raise ValueError(f'a synthetic sample seed must be a non-negative integer, got {seed!r}')
    size = _as_size(size)
    rng = np.random.default_rng(int(seed))
    mask = _draw_object(rng, size)
    names = rng.choice(len(TEXTURE_SOURCES), 2, replace=False)
    foreground = _random_texture(rng, TEXTURE_SOURCES[names[0]], size)
    background = _random_texture(rng, TEXTURE_SOURCES[names[1]], size)
    foreground, background = _separate_colours(foreground, background, mask, rng)
    image = cv2.copyTo(foreground, mask, background)
    image = cv2.GaussianBlur(image, (0, 0), EDGE_BLUR_SIGMA)
    return dict(img=image, gt_mask=mask)


@DATASETS.register_module()
class SyntheticRefineDataset(BaseDataset):
    """Synthetic (image, ground truth[, coarse mask]) samples; no files needed.

    Sample ``i`` is :func:`generate_synthetic_sample` of seed
    ``seed_offset + i`` at ``image_size``, generated when it is fetched. It
    yields ``img``, ``gt_mask``, ``img_path`` (a virtual name,
    ``synthetic/seed_<seed>.png``, that identifies the sample; no such file
    exists), ``seed``, ``img_shape`` and ``ori_shape``. By default the coarse
    mask is left to the pipeline (``GenerateCoarseMask``: a new one every
    epoch). With ``fixed_coarse=True`` the dataset adds a ``coarse_mask``
    synthesised with an RNG seeded from the sample seed, the same on every
    fetch: for held-out evaluation (do not put ``GenerateCoarseMask`` in that
    pipeline, it would overwrite it).

    Seed ranges: training ``seed_offset=0``, held-out evaluation
    ``1_000_000``, demo ``2_000_000`` (module constants ``*_SEED_OFFSET``).

    Args:
        num_samples (int): number of samples.
        image_size (int | Sequence[int]): ``(H, W)`` of every sample, or an
            int for squares.
        seed_offset (int): seed of sample 0.
        fixed_coarse (bool): add a deterministic ``coarse_mask`` per sample.
        coarse_cfg (dict, optional): fields of :class:`CoarseMaskOptions` for
            ``fixed_coarse`` (the defaults if None).
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``, ``metainfo``,
            ``max_refetch`` ... of :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=('object', ))

    def __init__(self,
                 num_samples: int = 1000,
                 image_size: Size = (256, 256),
                 seed_offset: int = TRAIN_SEED_OFFSET,
                 fixed_coarse: bool = False,
                 coarse_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        owner = type(self).__name__
        self.num_samples = check_int(owner, 'num_samples', num_samples, low=0)
        square = isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool)
        self.image_size = _as_size(
            check_ints(owner, 'image_size', (image_size, ) * 2 if square else image_size, low=8))
        self.seed_offset = check_int(owner, 'seed_offset', seed_offset, low=0)
        self.fixed_coarse = fixed_coarse
        self.coarse_options = CoarseMaskOptions(**(coarse_cfg or {}))
        super().__init__(**kwargs)

    def load_data_list(self) -> list:
        return [dict(seed=self.seed_offset + index) for index in range(self.num_samples)]

    def get_data_info(self, idx: int) -> dict:
        """The sample's description (seed, name, shape), without its pixels."""
        info = super().get_data_info(idx)
        info.update(
            img_path=f'synthetic/seed_{info["seed"]}.png',
            img_shape=self.image_size,
            ori_shape=self.image_size)
        return info

    def prepare_data(self, idx: int) -> Optional[dict]:
        info = self.get_data_info(idx)
        info.update(generate_synthetic_sample(info['seed'], self.image_size))
        if self.fixed_coarse:
            coarse_rng = np.random.default_rng([info['seed'], 1])
            info['coarse_mask'] = synthesize_coarse_mask(
                info['gt_mask'], self.coarse_options, rng=coarse_rng)
        return self.pipeline(info)
