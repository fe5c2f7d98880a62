"""No host synchronisation per diffusion step or per crop on the inference hot paths.

On a GPU every ``.item()``, ``.tolist()``, ``bool(tensor)``, ``int(tensor)``,
``nonzero`` or ``.cpu()`` of a device tensor waits for the device. These tests
count such reads (on CPU tensors, through a ``TorchFunctionMode``) while a tiny
SegRefiner refines, and check that the count does not grow with the number of
reverse steps or of crops / patches: the reads left are per image or per mask.
Both with per-mask seeding (the default: one generator per crop / patch,
:mod:`mmseg_refiner.models.refiners.seeding`) and unseeded.
"""
import torch
from torch.overrides import TorchFunctionMode

from mmseg_refiner.registry import MODELS
from mmseg_refiner.testing import randomize_, tiny_segrefiner_cfg

HOST_READS = {'item', 'tolist', '__bool__', '__int__', '__float__', '__index__', 'nonzero', 'cpu'}


class CountHostReads(TorchFunctionMode):

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, '__name__', '') in HOST_READS:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _model(mode, **refiner_cfg):
    model = MODELS.build(tiny_segrefiner_cfg(mode, seed=0, **refiner_cfg)).eval()
    model.test_cfg['precision'] = 'fp32'
    # random weights: a confident network, uneven c, local patches
    return randomize_(model)


def _instance_reads(num_instances, timesteps, seed):
    model = _model('instance', min_area=1, batch_size=64, timesteps=timesteps)
    masks = torch.zeros(num_instances, 96, 96, dtype=torch.bool)
    for i in range(num_instances):
        masks[i, 5 + 10 * i:25 + 10 * i, 10:40 + 5 * i] = True
    with torch.no_grad(), CountHostReads() as reads:
        model.instance_refiner.refine_masks(model, [torch.randn(3, 96, 96)], [masks], seeds=[seed])
    return reads.count


def test_instance_refinement_reads_the_host_once_per_image_not_per_crop_or_step():
    counts = {(n, steps, seed): _instance_reads(n, steps, seed)
              for n in (2, 7) for steps in ((5, 4, 3, 2, 1, 0), (5, 0)) for seed in (None, 1)}
    assert len(set(counts.values())) == 1, counts


def _hr_reads(mask, global_timesteps, seed):
    model = _model(
        'global_local',
        min_fg_pixels=1,
        patch_size=24,
        batch_size=1000,
        global_timesteps=global_timesteps)
    patches = []
    refine = model.refine

    def counting_refine(images, *args, **kwargs):
        patches.append(len(images))
        return refine(images, *args, **kwargs)

    model.refine = counting_refine
    image = torch.randn(3, *mask.shape, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)  # the draws of the unseeded run: every run selects some patches
    with torch.no_grad(), CountHostReads() as reads:
        model.global_local_refiner.refine_mask(model, image, mask, seed=seed)
    return reads.count, sum(patches[1:])


def test_global_local_refinement_reads_the_host_once_per_mask_not_per_patch_or_step():
    small, large = torch.zeros(160, 160, dtype=torch.bool), torch.zeros(160, 160, dtype=torch.bool)
    small[60:100, 60:100] = True
    large[20:140, 10:150] = True
    large[70:90, 30:130] = False
    results = [
        _hr_reads(mask, steps, seed) for mask in (small, large)
        for steps in ((5, 4, 3, 2, 1), (5, 2)) for seed in (None, 1)
    ]
    patch_counts = {patches for _, patches in results}
    assert len(patch_counts) > 1 and min(patch_counts) > 0, results  # the test has teeth
    assert len({reads for reads, _ in results}) == 1, results
