"""refine_pair_collate: samples holding several pairs become one flat batch."""
import torch
from mmengine.registry import FUNCTIONS

from mmseg_refiner.datasets import refine_pair_collate
from mmseg_refiner.datasets.collate import flatten_pairs
from mmseg_refiner.structures import RefineDataSample


def _pair(value):
    return dict(
        inputs=torch.full((3, 2, 2), value, dtype=torch.uint8),
        data_samples=RefineDataSample(metainfo=dict(sample_idx=value)))


def test_flatten_keeps_order_and_passes_single_samples_through():
    assert flatten_pairs([[1, 2], 3, [4, 5]]) == [1, 2, 3, 4, 5]


def test_pairs_of_each_sample_end_up_in_one_batch_in_order():
    batch = refine_pair_collate([[_pair(0), _pair(1)], [_pair(2), _pair(3)]])
    assert [int(x[0, 0, 0]) for x in batch['inputs']] == [0, 1, 2, 3]
    assert [s.sample_idx for s in batch['data_samples']] == [0, 1, 2, 3]


def test_single_pairs_collate_like_pseudo_collate():
    batch = refine_pair_collate([_pair(7), _pair(8)])
    reference = FUNCTIONS.get('pseudo_collate')([_pair(7), _pair(8)])
    assert [x.tolist() for x in batch['inputs']] == [x.tolist() for x in reference['inputs']]


def test_registered_where_the_runner_looks_it_up():
    assert FUNCTIONS.get('refine_pair_collate') is refine_pair_collate
