"""One loaded sample, several training pairs: the HR recipe's object crop and patch."""
import copy
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose
from typing import Callable, List, Optional, Sequence, Union

from mmseg_refiner.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PairBranches(BaseTransform):
    """Run several pipelines on the same loaded sample; return the list of their outputs.

    The HR recipe makes two training pairs of every sample, an object crop and
    a full-resolution patch, that go into the same batch. The loading
    transforms run once before this wrapper; each branch (typically: crop,
    optional online coarse mask, resize, flip, :class:`PackRefineInputs`)
    gets its own shallow copy of ``results``. Transforms in the branches must
    replace arrays rather than write into them, as mmcv transforms do.

    The dataset then yields a list of packed pairs per sample; the
    ``refine_pair_collate`` collate function (``mmseg_refiner.datasets.collate``)
    flattens these lists into one batch.

    Args:
        branches (Sequence[Sequence[dict | Callable]]): one transform list per
            training pair.

    Returns (of ``transform``):
        list: the output of each branch, in order, or None if any branch
        returned None.
    """

    def __init__(self, branches: Sequence[Sequence[Union[dict, Callable]]]) -> None:
        if not branches:
            raise ValueError('PairBranches needs at least one branch')
        self.branches = [
            Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in branch])
            for branch in branches
        ]

    def transform(self, results: dict) -> Optional[List[dict]]:
        outputs = []
        for branch in self.branches:
            output = branch(copy.copy(results))
            if output is None:
                return None
            outputs.append(output)
        return outputs

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(branches={self.branches})'
