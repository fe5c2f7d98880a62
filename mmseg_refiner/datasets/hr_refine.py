"""High-resolution image/mask folders (DIS5K DIS-TR, ThinObject-5K): the HR training set."""
import os.path as osp
from mmengine.logging import MMLogger
from typing import List, Sequence, Tuple

from mmseg_refiner.fileio import IMAGE_EXTENSIONS, index_folder
from mmseg_refiner.registry import DATASETS
from .refine_base import RefineBaseDataset

#: Offline coarse-mask variants, one sub-folder each inside a coarse folder,
#: written by ``tools/dataset_converters/make_hr_coarse_masks.py``:
#: ``gt`` is the coarse-mask synthesis applied to the ground truth, ``filled``
#: the synthesis applied to the ground truth with its holes filled (outer
#: contours only).
COARSE_VARIANTS: Tuple[str, ...] = ('gt', 'filled')
#: File suffix of the offline coarse masks (8-bit PNG, 0/255).
COARSE_SUFFIX = '.png'


def coarse_mask_paths(coarse_dir: str, stem: str) -> List[str]:
    """Paths of the offline coarse masks of the image named ``stem``, one per variant."""
    return [osp.join(coarse_dir, variant, stem + COARSE_SUFFIX) for variant in COARSE_VARIANTS]


def read_name_list(list_file: str) -> List[str]:
    """Image stems listed in ``list_file``, one per line, with or without extension.

    ThinObject-5K's ``list/train.txt`` names the mask files (``name.png``);
    lines without an image extension are taken as stems. Blank lines are skipped.
    """
    with open(list_file, encoding='utf-8') as f:
        names = [line.strip() for line in f]
    return [
        osp.splitext(name)[0] if name.lower().endswith(IMAGE_EXTENSIONS) else name for name in names
        if name
    ]


@DATASETS.register_module()
class HRRefineDataset(RefineBaseDataset):
    """Folders of high-resolution images, ground-truth masks and offline coarse masks.

    Each subset is a dict with

    - ``img_dir``: images ``<stem><img_suffix>`` (default suffix ``.jpg``);
    - ``mask_dir``: ground truth ``<stem><mask_suffix>`` (default ``.png``,
      8-bit 0/255);
    - ``coarse_dir``: the offline coarse masks of ``make_hr_coarse_masks.py``,
      ``<coarse_dir>/gt/<stem>.png`` and ``<coarse_dir>/filled/<stem>.png``
      (see :data:`COARSE_VARIANTS`);
    - ``list_file`` (optional): the stems to use, one per line (with or
      without extension); without it every image of ``img_dir`` is used.

    Relative paths are joined to ``data_root``. The paper's HR set::

        subsets=[
            dict(img_dir='DIS5K/DIS-TR/im', mask_dir='DIS5K/DIS-TR/gt',
                 coarse_dir='DIS5K/DIS-TR/coarse'),
            dict(img_dir='ThinObject5K/images', mask_dir='ThinObject5K/masks',
                 coarse_dir='ThinObject5K/coarse',
                 list_file='ThinObject5K/list/train.txt'),
        ]

    Each ``data_info`` holds ``img_path``, ``mask_path`` and ``coarse_path``
    (the list of both variants; :class:`LoadMaskFromFile` takes one at random).
    Images whose mask or coarse masks are missing are left out with a warning
    naming them; a subset left empty is an error.

    Args:
        subsets (Sequence[dict]): the folders, as above.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments
            (``data_root``, ``pipeline``, ...); ``ann_file`` is not used.
    """

    _SUBSET_KEYS = {'img_dir', 'mask_dir', 'coarse_dir', 'list_file', 'img_suffix', 'mask_suffix'}

    def __init__(self, subsets: Sequence[dict], **kwargs) -> None:
        if not subsets:
            raise ValueError('HRRefineDataset needs at least one subset')
        for subset in subsets:
            unknown = set(subset) - self._SUBSET_KEYS
            missing = {'img_dir', 'mask_dir', 'coarse_dir'} - set(subset)
            if unknown or missing:
                raise ValueError(
                    f'HRRefineDataset subset {subset}: unknown keys {sorted(unknown)}, '
                    f'missing keys {sorted(missing)}')
        self.subsets = [dict(subset) for subset in subsets]
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = []
        for subset in self.subsets:
            data_list.extend(self._load_subset(subset))
        return data_list

    def _load_subset(self, subset: dict) -> List[dict]:
        img_dir, mask_dir, coarse_dir = (
            self._resolve(subset[key]) for key in ('img_dir', 'mask_dir', 'coarse_dir'))
        img_suffix = subset.get('img_suffix', '.jpg')
        mask_suffix = subset.get('mask_suffix', '.png')
        for directory in (img_dir, mask_dir):
            if not osp.isdir(directory):
                raise FileNotFoundError(f'HRRefineDataset: folder {directory} does not exist')
        list_file = self._resolve(subset.get('list_file'))
        images = index_folder(img_dir, img_suffix, what='image')
        masks = index_folder(mask_dir, mask_suffix, what='mask')
        coarse = [
            index_folder(folder, COARSE_SUFFIX, what='coarse mask') if osp.isdir(folder) else {}
            for folder in (osp.join(coarse_dir, variant) for variant in COARSE_VARIANTS)
        ]
        stems = read_name_list(list_file) if list_file is not None else sorted(images)
        data_list, missing = [], []
        for stem in stems:
            paths = dict(
                img_path=images.get(stem, osp.join(img_dir, stem + img_suffix)),
                mask_path=masks.get(stem, osp.join(mask_dir, stem + mask_suffix)),
                coarse_path=[
                    index.get(stem, path)
                    for index, path in zip(coarse, coarse_mask_paths(coarse_dir, stem))
                ])
            indexes = [images, masks, *coarse]
            absent = [
                p for p, index in zip(
                    [paths['img_path'], paths['mask_path'], *paths['coarse_path']], indexes)
                if stem not in index
            ]
            if absent:
                missing.append(absent[0])
            else:
                data_list.append(paths)
        if missing:
            converter = f'tools/dataset_converters/make_hr_coarse_masks.py {mask_dir} {coarse_dir}'
            if list_file is not None:
                converter += f' --list {list_file}'
            MMLogger.get_current_instance().warning(
                f'HRRefineDataset: left out {len(missing)} of {len(stems)} images of {img_dir} '
                f'whose files are missing, e.g. {missing[:5]} (offline coarse masks are made by '
                f'{converter})')
        if not data_list:
            raise FileNotFoundError(
                f'HRRefineDataset: no usable image in {img_dir} (mask folder {mask_dir}, coarse '
                f'folder {coarse_dir}' + (f', list {list_file}' if list_file else '') + ')')
        return data_list
