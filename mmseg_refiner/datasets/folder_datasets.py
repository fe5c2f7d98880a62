"""Test sets refined one image at a time at full resolution: folders of images with coarse
masks (and ground truth).

Three layouts, one loader:

- :class:`MaskFolderDataset`: any folder of images plus a folder of coarse
  masks matched by name (``<stem><img_suffix>`` <-> ``<stem><coarse_suffix>``),
  ground truth optional.
- :class:`BIGRefineDataset`: BIG (CascadePSP), ``<stem>_im.jpg`` and
  ``<stem>_gt.png`` in one folder, the coarse ``<stem>_seg.png`` of some
  segmentation model in another (or the same) folder.
- :class:`DIS5KRefineDataset`: DIS5K's ``DIS-VD`` and ``DIS-TE1..4``, each
  with ``im/`` and ``gt/``; coarse masks in ``<coarse_dir>/<subset>/<stem>.png``.

Every ``data_info`` holds ``img_path``, ``coarse_path``, ``mask_path`` (the
ground truth, when there is one) and, when ``out_dir`` is given, ``out_path``:
where the refined mask of the sample goes. :class:`RefinedMaskWriter`
(``mmseg_refiner.engine``) writes it there and records it in the folder's
progress log (the package's one resume mechanism,
:mod:`mmseg_refiner.fileio.resume`); with ``skip_done=True`` samples the log
records as refined from the same image and coarse-mask bytes, whose output is
unchanged, are left out, so an interrupted ``tools/test.py`` run picks up where
it stopped, and an input edited since is refined again (metrics of such a run
cover only the samples refined in it; evaluate the whole output folder with
``tools/analysis_tools/eval_mask_folders.py``).
"""
import numpy as np
import os.path as osp
from mmengine.logging import MMLogger
from typing import List, Optional, Sequence, Tuple, Union

from mmseg_refiner.fileio import (FOLDER_LOG_NAME, IMAGE_EXTENSIONS, file_digest, files_digest,
                                  finished_items, index_folder, match_keys, relative_name)
from mmseg_refiner.fileio.outputs import JobPath, check_outputs
from mmseg_refiner.registry import DATASETS
from .refine_base import RefineBaseDataset

#: Subsets of DIS5K's validation and test data.
DIS5K_TEST_SUBSETS = ('DIS-VD', 'DIS-TE1', 'DIS-TE2', 'DIS-TE3', 'DIS-TE4')


@DATASETS.register_module()
class MaskFolderDataset(RefineBaseDataset):
    """Images and coarse masks (and optional ground truth) in folders, matched by name.

    An image ``<img_dir>/<stem><img_suffix>`` pairs with the coarse mask
    ``<coarse_dir>/<stem><coarse_suffix>`` and, when ``gt_dir`` is given, the
    ground truth ``<gt_dir>/<stem><gt_suffix>`` (matched by
    :func:`mmseg_refiner.fileio.index_folder`: two images with one stem, such
    as ``a.jpg`` and ``a.png``, are an error naming both). Masks are read
    under the one mask rule (``LoadMaskFromFile``). A size mismatch between image
    and mask is reported by the loading transform, naming the file.

    Args:
        img_dir (str): folder of images.
        coarse_dir (str): folder of coarse masks.
        gt_dir (str, optional): folder of ground-truth masks.
        img_suffix (str | Sequence[str]): what image file names end with;
            the rest of the name is the stem. Defaults to
            :data:`mmseg_refiner.fileio.IMAGE_EXTENSIONS`.
        coarse_suffix (str): ``stem + coarse_suffix`` is the coarse mask's
            name. Defaults to ``'.png'``.
        gt_suffix (str): ``stem + gt_suffix`` is the ground truth's name.
            Defaults to ``'.png'``.
        out_dir (str, optional): folder of the refined masks; each sample gets
            ``out_path = <out_dir>/<stem><out_suffix>``.
        out_suffix (str): suffix of the refined masks. Defaults to ``'.png'``.
        skip_done (bool): leave out samples already refined from the same
            files (module docstring; resume an interrupted run). Needs
            ``out_dir``. Defaults to False.
        on_missing (str): what to do with an image whose coarse mask (or ground
            truth) is missing: ``'error'`` (raise, naming the file) or
            ``'skip'`` (leave it out and log it). Defaults to ``'error'``.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments
            (``pipeline``, ``data_root``...; relative input folders are joined
            to ``data_root``, ``out_dir`` is taken as given). ``test_mode``
            defaults to True.
    """

    def __init__(self,
                 img_dir: str,
                 coarse_dir: str,
                 gt_dir: Optional[str] = None,
                 img_suffix: Union[str, Sequence[str]] = IMAGE_EXTENSIONS,
                 coarse_suffix: str = '.png',
                 gt_suffix: str = '.png',
                 out_dir: Optional[str] = None,
                 out_suffix: str = '.png',
                 skip_done: bool = False,
                 on_missing: str = 'error',
                 **kwargs) -> None:
        if on_missing not in ('error', 'skip'):
            raise ValueError(f"on_missing must be 'error' or 'skip', got {on_missing!r}")
        if skip_done and out_dir is None:
            raise ValueError('skip_done=True needs out_dir (where finished masks are)')
        self.img_dir = img_dir
        self.coarse_dir = coarse_dir
        self.gt_dir = gt_dir
        self.img_suffix = (img_suffix, ) if isinstance(img_suffix, str) else tuple(img_suffix)
        self.coarse_suffix = coarse_suffix
        self.gt_suffix = gt_suffix
        self.out_dir = out_dir
        self.out_suffix = out_suffix
        self.skip_done = skip_done
        self.on_missing = on_missing
        kwargs.setdefault('test_mode', True)
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        return self._scan(
            self._resolve(self.img_dir), self._resolve(self.coarse_dir), self._resolve(self.gt_dir),
            self.out_dir)

    def _scan(self, img_dir: str, coarse_dir: str, gt_dir: Optional[str],
              out_dir: Optional[str]) -> List[dict]:
        """``data_info`` s of one image folder, checked against the mask folders."""
        images = index_folder(img_dir, self.img_suffix, what='image')
        if not images:
            raise FileNotFoundError(f'no image ending with {self.img_suffix} in {img_dir}')
        mask_folders = {'coarse_path': (coarse_dir, self.coarse_suffix, 'coarse mask')}
        if gt_dir is not None:
            mask_folders['mask_path'] = (gt_dir, self.gt_suffix, 'ground-truth mask')
        indexes = {
            key: index_folder(folder, suffix, what=what)
            for key, (folder, suffix, what) in mask_folders.items()
        }
        matched, missing = match_keys(images, indexes)
        absent = sorted((images[stem], osp.join(mask_folders[key][0], stem + mask_folders[key][1]))
                        for key, stems in missing.items() for stem in stems)
        if absent and self.on_missing == 'error':
            image, mask = absent[0]
            raise FileNotFoundError(
                f'image {image}: missing mask file {mask}' +
                (f' (and {len(absent) - 1} more)' if len(absent) > 1 else '') +
                ' (give it a mask or move it out of the folder; a config run can set the '
                'dataset\'s on_missing="skip" to leave such images out)')
        logger = MMLogger.get_current_instance()
        for image, mask in absent:
            logger.warning(f'{type(self).__name__}: skipped image {image}: missing mask file '
                           f'{mask}')
        data_list = []
        for stem, files in matched:
            info = dict(img_path=files.pop('primary'), **files)
            _refuse_one_file_twice(info)
            if out_dir is not None:
                info['out_path'] = osp.join(out_dir, stem + self.out_suffix)
            data_list.append(info)
        if out_dir is not None:  # the output rule: refined masks never replace an input
            inputs = [
                JobPath(f'{type(self).__name__} {key}', folder, folder=True)
                for key, folder in (('img_dir', img_dir), ('coarse_dir', coarse_dir), ('gt_dir',
                                                                                       gt_dir))
            ]
            check_outputs(
                [JobPath('out_dir', out_dir, folder=True)] +
                [JobPath('out_dir', info['out_path'], formats=('.png', ))
                 for info in data_list], inputs)
        return data_list

    def filter_data(self) -> List[dict]:
        """Leave out the samples finished from the same inputs when ``skip_done``."""
        if not self.skip_done:
            return self.data_list
        finished = finished_items(osp.join(self.out_dir, FOLDER_LOG_NAME))
        todo = [info for info in self.data_list if not self._is_finished(info, finished)]
        done = len(self.data_list) - len(todo)
        if done:
            MMLogger.get_current_instance().info(
                f'{type(self).__name__}: {done} of {len(self.data_list)} samples already have a '
                f'refined mask in {self.out_dir} and are skipped '
                f'({len(todo)} to do)')
        return todo

    def _is_finished(self, info: dict, finished: dict) -> bool:
        name = relative_name(info['out_path'], self.out_dir)
        entry = finished.get(name)
        return (entry is not None and osp.isfile(info['out_path'])
                and entry['key'] == files_digest(name, info['img_path'], info['coarse_path'])
                and entry['result'].get('out') == file_digest(info['out_path']))

    def _serialize_data(self) -> Tuple[np.ndarray, np.ndarray]:
        # When every sample is already done the list is empty, which MMEngine's
        # serialization (np.concatenate of nothing) cannot handle.
        if not self.data_list:
            return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
        return super()._serialize_data()


def _refuse_one_file_twice(info: dict) -> None:
    """Refuse a sample whose image is its mask, or whose coarse mask is its ground truth
    (one folder given for both, suffixes that do not tell them apart)."""
    roles = {'img_path': 'image', 'coarse_path': 'coarse mask', 'mask_path': 'ground truth'}
    seen = {}
    for key, role in roles.items():
        if info.get(key) is None:
            continue
        real = osp.realpath(info[key])
        if real in seen:
            raise ValueError(
                f'{info[key]} is both the {seen[real]} and the {role} of a sample: the folders '
                f'(or suffixes) of images, coarse masks and ground truth must tell them apart')
        seen[real] = role


@DATASETS.register_module()
class BIGRefineDataset(MaskFolderDataset):
    """BIG (CascadePSP's high-resolution test set) with coarse masks of some model.

    Layout: ``<img_dir>/<stem>_im.jpg`` and ``<img_dir>/<stem>_gt.png``; coarse
    masks ``<coarse_dir>/<stem>_seg.png`` (``coarse_dir`` defaults to
    ``img_dir``, the layout of the CascadePSP release). Refined masks are
    written as ``<out_dir>/<stem>_refine.png``.

    Args:
        img_dir (str): the BIG folder (images and ground truth).
        coarse_dir (str, optional): folder of the coarse ``*_seg.png``.
        **kwargs: :class:`MaskFolderDataset` arguments; the suffixes default
            to BIG's.
    """

    def __init__(self, img_dir: str, coarse_dir: Optional[str] = None, **kwargs) -> None:
        kwargs.setdefault('gt_dir', img_dir)
        kwargs.setdefault('img_suffix', '_im.jpg')
        kwargs.setdefault('gt_suffix', '_gt.png')
        kwargs.setdefault('coarse_suffix', '_seg.png')
        kwargs.setdefault('out_suffix', '_refine.png')
        super().__init__(img_dir=img_dir, coarse_dir=coarse_dir or img_dir, **kwargs)


@DATASETS.register_module()
class DIS5KRefineDataset(MaskFolderDataset):
    """DIS5K's validation/test subsets with coarse masks of some model.

    Layout: ``<img_dir>/<subset>/im/<stem>.jpg``, ``<img_dir>/<subset>/gt/<stem>.png``
    and coarse masks ``<coarse_dir>/<subset>/<stem>.png``. Refined masks are
    written as ``<out_dir>/<subset>/<stem>.png``. Each sample's meta holds its
    ``subset``.

    Args:
        img_dir (str): the DIS5K folder (holding ``DIS-VD``, ``DIS-TE1``...).
        coarse_dir (str): folder holding one folder of coarse masks per subset.
        subsets (Sequence[str]): subsets to use. Defaults to
            :data:`DIS5K_TEST_SUBSETS`.
        **kwargs: :class:`MaskFolderDataset` arguments; ``img_suffix``
            defaults to ``'.jpg'``.
    """

    def __init__(self,
                 img_dir: str,
                 coarse_dir: str,
                 subsets: Sequence[str] = DIS5K_TEST_SUBSETS,
                 **kwargs) -> None:
        if not subsets:
            raise ValueError('DIS5KRefineDataset needs at least one subset')
        self.subsets = tuple(subsets)
        kwargs.setdefault('img_suffix', '.jpg')
        super().__init__(img_dir=img_dir, coarse_dir=coarse_dir, **kwargs)

    def load_data_list(self) -> List[dict]:
        root, coarse_root = self._resolve(self.img_dir), self._resolve(self.coarse_dir)
        out_root = self.out_dir
        data_list = []
        for subset in self.subsets:
            infos = self._scan(
                osp.join(root, subset, 'im'), osp.join(coarse_root, subset),
                osp.join(root, subset, 'gt'),
                None if out_root is None else osp.join(out_root, subset))
            for info in infos:
                info['subset'] = subset
            data_list.extend(infos)
        return data_list
