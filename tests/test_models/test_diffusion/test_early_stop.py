"""test_cfg.early_stop: settings, the settled test, and per-row stopping inside a batch."""
import pytest
import torch

from mmseg_refiner.models.diffusion import DiscreteMaskDiffusion
from mmseg_refiner.models.diffusion.early_stop import check_early_stop, settled_rows, still_moving

SIZE = 4


def test_check_early_stop_fills_defaults_and_names_bad_keys():
    assert check_early_stop(None) is None
    assert check_early_stop({}) == dict(max_changed=0.005)
    assert check_early_stop(dict(max_changed=0.01)) == dict(max_changed=0.01)
    with pytest.raises(ValueError, match=r"early_stop: unknown key 'max_change'"):
        check_early_stop(dict(max_change=0.1))
    for bad in (1.0, -0.1, True, '0.1', None):
        with pytest.raises(ValueError, match=r'early_stop\.max_changed must be a fraction'):
            check_early_stop(dict(max_changed=bad))
    with pytest.raises(ValueError, match='must be None or a dict'):
        check_early_stop(0.1)


def test_settled_rows_hand_computed():
    previous = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    current = previous.clone()
    current[0, 0, 0, 0] = True  # row 0: 1 pixel of 4 changed; row 1: none
    assert settled_rows(previous, current, 0.0).tolist() == [False, True]
    assert settled_rows(previous, current, 0.25).tolist() == [True, True]
    assert settled_rows(previous, current, 0.24).tolist() == [False, True]


def test_still_moving_hand_computed():
    previous = torch.zeros(3, 1, 2, 2, dtype=torch.bool)
    current = previous.clone()
    current[0, 0, 0, 0] = current[2, 0, 1, 1] = True  # rows 0 and 2 moved, row 1 settled
    assert still_moving(None, None, current, 0.0) == (None, current)  # the first step
    rows, kept = still_moving(None, previous, current, 0.0)
    assert rows.tolist() == [0, 2] and torch.equal(kept, current[[0, 2]])
    rows, kept = still_moving(torch.tensor([4, 7, 9]), previous, current, 0.0)
    assert rows.tolist() == [4, 9]
    moved = ~previous  # every row moved: the rows stay as they are (None: all of them)
    assert still_moving(None, previous, moved, 0.0)[0] is None
    assert still_moving(None, previous, previous, 0.0)[0].tolist() == []


class ScriptedDenoiser:
    """Logits from the image alone: channel 0 says which kind of row it is.

    0: 'settled', the same prediction at every step (left half foreground);
    1: 'oscillating', all foreground at odd steps, all background at even ones;
    2: 'one pixel', the settled prediction with pixel (0, 0) flipped at odd steps.
    Records the batch size of every call.
    """

    def __init__(self):
        self.batch_sizes = []

    def __call__(self, x, t):
        self.batch_sizes.append(x.shape[0])
        kind = x[:, 0, 0, 0].round().long()
        left = torch.zeros(SIZE, SIZE)
        left[:, :SIZE // 2] = 1
        settled = 4 * (2 * left - 1)
        sign = (1 - 2 * (t % 2)).float()[:, None, None]  # +1 at even t, -1 at odd
        logits = []
        for row, kind_of_row in enumerate(kind.tolist()):
            if kind_of_row == 0:
                logits.append(settled)
            elif kind_of_row == 1:
                logits.append(-3 * sign[row].expand(SIZE, SIZE))
            else:
                flipped = settled.clone()
                flipped[0, 0] = 4 * sign[row, 0, 0]
                logits.append(flipped)
        return torch.stack(logits)[:, None]


def _batch(kinds):
    image = torch.stack([torch.full((3, SIZE, SIZE), float(k)) for k in kinds])
    coarse = torch.zeros(len(kinds), 1, SIZE, SIZE)
    coarse[:, :, 1:3, 1:3] = 1
    return image, coarse


def _generators(seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_rows_stop_one_by_one_and_the_rest_runs_as_alone():
    diffusion = DiscreteMaskDiffusion()
    image, coarse = _batch([0, 1])
    denoiser = ScriptedDenoiser()
    out = diffusion.sample(
        denoiser, image, coarse, generator=_generators([1, 2]), early_stop=dict(max_changed=0.0))
    # row 0 predicts the same at steps 5 and 4: it stops after 2 network calls.
    assert out['steps'].tolist() == [2, 6]
    assert denoiser.batch_sizes == [2, 2, 1, 1, 1, 1]
    assert torch.equal(out['prob'][0],
                       torch.sigmoid(ScriptedDenoiser()(image[:1], torch.tensor([4]))[0]))
    # row 1 is sampled exactly as without early stop, alone
    alone = diffusion.sample(ScriptedDenoiser(), image[1:], coarse[1:], generator=_generators([2]))
    assert torch.equal(out['prob'][1], alone['prob'][0])
    assert torch.equal(out['cum_fine'][1], alone['cum_fine'][0])
    assert alone['steps'].tolist() == [6]


def test_max_changed_is_a_fraction_of_pixels():
    diffusion = DiscreteMaskDiffusion()
    image, coarse = _batch([2])  # one of 16 pixels flips at every step
    runs = {
        f: diffusion.sample(
            ScriptedDenoiser(),
            image,
            coarse,
            generator=_generators([0]),
            early_stop=dict(max_changed=f))['steps'].item()
        for f in (0.0, 1 / 16 - 1e-3, 1 / 16)
    }
    assert runs == {0.0: 6, 1 / 16 - 1e-3: 6, 1 / 16: 2}


def test_all_rows_settled_ends_the_loop():
    diffusion = DiscreteMaskDiffusion()
    image, coarse = _batch([0, 0, 0])
    denoiser = ScriptedDenoiser()
    out = diffusion.sample(denoiser, image, coarse, early_stop=dict(max_changed=0.0))
    assert out['steps'].tolist() == [2, 2, 2] and denoiser.batch_sizes == [3, 3]


def test_off_runs_every_step_and_counts_them():
    diffusion = DiscreteMaskDiffusion()
    image, coarse = _batch([0, 1])
    denoiser = ScriptedDenoiser()
    out = diffusion.sample(
        denoiser, image, coarse, timesteps=(5, 3, 0), generator=_generators([1, 2]))
    assert out['steps'].tolist() == [3, 3] and denoiser.batch_sizes == [2, 2, 2]


def test_a_real_model_stops_where_its_prediction_settles():
    """A tiny SegRefiner: with a loose early stop each mask stops after 2 steps, and its
    probability is that of a run of the two steps 5, 4 alone (same draws)."""
    from mmseg_refiner.models.refiners.seeding import make_generators
    from mmseg_refiner.registry import MODELS
    from mmseg_refiner.testing import randomize_, tiny_segrefiner_cfg
    model = randomize_(MODELS.build(tiny_segrefiner_cfg('instance')), seed=1).eval()
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    coarse = torch.zeros(3, 1, 32, 32)
    coarse[:, :, 8:24, 6:20] = 1
    calls = []
    model.denoiser.register_forward_hook(lambda module, args, output: calls.append(len(args[0])))
    full = model.refine(images, coarse, generator=make_generators([1, 2, 3], 'cpu'))
    assert calls == [3] * 6 and full['steps'].tolist() == [6, 6, 6]
    calls.clear()
    model.test_cfg['early_stop'] = dict(max_changed=0.99)
    early = model.refine(images, coarse, generator=make_generators([1, 2, 3], 'cpu'))
    assert calls == [3, 3] and early['steps'].tolist() == [2, 2, 2]
    model.test_cfg['early_stop'] = None
    two = model.refine(
        images, coarse, timesteps=[5, 4], generator=make_generators([1, 2, 3], 'cpu'))
    assert torch.equal(early['prob'], two['prob'])
