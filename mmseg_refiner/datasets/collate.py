"""Collating samples that each hold several training pairs."""
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from typing import Any, List, Sequence


def flatten_pairs(data_batch: Sequence[Any]) -> List[Any]:
    """Replace every list-valued sample of ``data_batch`` by its elements, in order."""
    flat: List[Any] = []
    for sample in data_batch:
        if isinstance(sample, list):
            flat.extend(sample)
        else:
            flat.append(sample)
    return flat


# Registered in MMEngine's root FUNCTIONS registry: the Runner looks collate
# functions up there (``train_dataloader.collate_fn=dict(type=...)``), not in a
# child scope.
@FUNCTIONS.register_module()
def refine_pair_collate(data_batch: Sequence[Any]) -> Any:
    """:func:`mmengine.dataset.pseudo_collate` of the flattened pairs.

    With the HR recipe each dataset sample is a list of packed pairs (object
    crop and patch, from :class:`PairBranches`) that must share a batch.
    ``train_dataloader.batch_size`` still counts *samples*, as the sampler
    draws them, so a batch of ``B`` samples holds ``2 * B`` pairs. Samples that
    are single packed dicts pass through, so the function also serves the LR
    recipe.

    Config: ``train_dataloader = dict(..., collate_fn=dict(type='refine_pair_collate'))``.
    """
    return pseudo_collate(flatten_pairs(data_batch))
