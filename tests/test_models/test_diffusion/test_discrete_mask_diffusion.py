"""DiscreteMaskDiffusion: schedule, forward transition, reverse step, sampling loop."""
import math
import pytest
import torch

from mmseg_refiner.models.diffusion import DiscreteMaskDiffusion

PAPER_SCHEDULE = [0.8, 0.64, 0.48, 0.32, 0.16, 0.0]


def test_schedule_values():
    diffusion = DiscreteMaskDiffusion()
    assert diffusion.fine_prob(torch.arange(6)).tolist() == pytest.approx(PAPER_SCHEDULE)
    assert diffusion.fine_prob(-1).item() == 1.0
    assert diffusion.fine_prob(torch.tensor([5, -1, 0])).tolist() == pytest.approx([0., 1., .8])
    assert diffusion.default_timesteps == [5, 4, 3, 2, 1, 0]


def test_schedule_is_configurable():
    diffusion = DiscreteMaskDiffusion(num_timesteps=3, start=0.5, end=0.1)
    assert diffusion.fine_prob(torch.arange(-1, 3)).tolist() == pytest.approx([1., .5, .3, .1])


@pytest.mark.parametrize(
    'kwargs', [dict(start=1.0),
               dict(start=0.2, end=0.5),
               dict(end=-0.1),
               dict(num_timesteps=0)])
def test_invalid_schedule_raises(kwargs):
    with pytest.raises(ValueError, match='DiscreteMaskDiffusion'):
        DiscreteMaskDiffusion(**kwargs)


@pytest.mark.parametrize('t', [6, -2])
def test_out_of_range_timestep_raises(t):
    with pytest.raises(ValueError, match='timesteps'):
        DiscreteMaskDiffusion().fine_prob(t)


def test_q_sample_fine_rate_matches_schedule():
    """Per-pixel rate of the fine value equals b[t], with t per sample."""
    generator = torch.Generator().manual_seed(0)
    diffusion = DiscreteMaskDiffusion()
    num_pixels = 160 * 160
    fine = (torch.rand(6, 1, 160, 160, generator=generator) < 0.5).float()
    coarse = 1 - fine  # every pixel differs, so "took the fine value" is observable
    t = torch.tensor([3, 0, 5, 1, 4, 2])
    mask_t = diffusion.q_sample(fine, coarse, t, generator=generator)
    assert mask_t.shape == fine.shape and mask_t.dtype == torch.float32
    assert set(mask_t.unique().tolist()) <= {0.0, 1.0}
    fine_rate = (mask_t == fine).flatten(1).float().mean(1)
    for i, step in enumerate(t.tolist()):
        b = PAPER_SCHEDULE[step]
        binomial_std = math.sqrt(b * (1 - b) / num_pixels)
        assert abs(fine_rate[i].item() - b) <= 4 * binomial_std + 1e-12, (step, fine_rate[i])


def test_q_sample_keeps_pixels_where_fine_equals_coarse():
    diffusion = DiscreteMaskDiffusion()
    same = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    mask_t = diffusion.q_sample(same, same.clone(), torch.tensor([5, 2]))
    assert torch.equal(mask_t, same)


def test_q_sample_is_reproducible_with_a_generator():
    diffusion = DiscreteMaskDiffusion()
    fine, coarse, t = torch.ones(2, 1, 16, 16), torch.zeros(2, 1, 16, 16), torch.tensor([2, 3])
    draws = [
        diffusion.q_sample(fine, coarse, t, generator=torch.Generator().manual_seed(seed))
        for seed in (7, 7, 8)
    ]
    assert torch.equal(draws[0], draws[1])
    assert not torch.equal(draws[0], draws[2])


def _logit(p):
    return math.log(p / (1 - p))


# Four pixels: p0 = 0.5 (f = 0), p0 = 1 (f = 1: sigmoid(40) is exactly 1.0 in
# float32), p0 = 0.75 (f = 0.5), p0 = 0.1 (f = 0.8).
LOGITS = [0.0, 40.0, _logit(0.75), _logit(0.1)]
CONFIDENCE = [0.0, 1.0, 0.5, 0.8]


@pytest.mark.parametrize('t', [5, 3, 0])
def test_reverse_step_matches_hand_computed_q_and_c(t):
    schedule_prev = ([1.0] + PAPER_SCHEDULE)[t]  # b[t-1], with b[-1] = 1
    schedule_now = PAPER_SCHEDULE[t]
    cum_fine_before = [0.0, 0.5, 0.2, 0.1]
    expected_q = [f * (schedule_prev - schedule_now) / (1 - f * schedule_now) for f in CONFIDENCE]
    expected_c = [c + (1 - c) * q for c, q in zip(cum_fine_before, expected_q)]
    # spelled out for t = 3 (b[2] = 0.48, b[3] = 0.32): q = 0, 0.16/0.68, 0.08/0.84, 0.128/0.744
    if t == 3:
        assert expected_q == pytest.approx([0.0, 0.16 / 0.68, 0.08 / 0.84, 0.128 / 0.744])

    diffusion = DiscreteMaskDiffusion()
    logits = torch.tensor(LOGITS).view(1, 1, 1, 4)
    q = diffusion.transition_prob(logits.sigmoid(), t)
    assert q.flatten().tolist() == pytest.approx(expected_q, abs=1e-6)
    out = diffusion.reverse_step(logits, torch.zeros(1, 1, 1, 4),
                                 torch.tensor(cum_fine_before).view(1, 1, 1, 4), t)
    assert out['cum_fine'].flatten().tolist() == pytest.approx(expected_c, abs=1e-6)
    assert torch.allclose(out['prob'], logits.sigmoid())


def test_reverse_step_f1_at_t0_makes_every_pixel_fine():
    """At t = 0 a fully confident pixel has q = (1 - 0.8) / (1 - 0.8) = 1."""
    diffusion = DiscreteMaskDiffusion()
    logits = torch.tensor([40.0, -40.0]).view(1, 1, 1, 2)
    out = diffusion.reverse_step(logits, torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2), 0)
    assert out['cum_fine'].flatten().tolist() == [1.0, 1.0]


def test_reverse_step_next_mask():
    """c = 1 takes the prediction [logits >= 0]; c = 0 goes back to the coarse mask."""
    diffusion = DiscreteMaskDiffusion()
    # pixel 0/1: f = 1 at t = 0 -> c = 1; pixel 2/3: f = 0, c stays 0.
    logits = torch.tensor([40.0, -40.0, 0.0, 0.0]).view(1, 1, 1, 4)
    coarse = torch.tensor([0.0, 1.0, 1.0, 0.0]).view(1, 1, 1, 4)
    out = diffusion.reverse_step(logits, coarse, torch.zeros(1, 1, 1, 4), 0)
    assert out['mask'].flatten().tolist() == [1.0, 0.0, 1.0, 0.0]
    assert 'mask' not in diffusion.reverse_step(
        logits, coarse, torch.zeros(1, 1, 1, 4), 0, sample_mask=False)


def test_reverse_step_selects_pixels_with_probability_c():
    diffusion = DiscreteMaskDiffusion()
    shape = (1, 1, 100, 100)
    cum_fine = torch.full(shape, 0.3)  # f = 0 at t = 5 keeps c: q = 0 when f = 0
    out = diffusion.reverse_step(
        torch.zeros(shape),
        torch.zeros(shape),
        cum_fine,
        5,
        generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out['cum_fine'], cum_fine)
    rate = out['mask'].mean().item()  # prediction [0 >= 0] = 1 where selected, coarse 0 elsewhere
    assert abs(rate - 0.3) <= 4 * math.sqrt(0.3 * 0.7 / 1e4)


class RecordingDenoiser:
    """Returns fixed logits and records what the sampling loop feeds it."""

    def __init__(self, logits):
        self.logits = logits
        self.calls = []

    def __call__(self, x, t):
        self.calls.append((x.clone(), t.clone()))
        return self.logits.expand(x.shape[0], 1, *x.shape[2:])


def test_sample_runs_the_given_steps_from_the_coarse_mask():
    diffusion = DiscreteMaskDiffusion()
    image = torch.randn(2, 3, 60, 60)
    coarse = torch.zeros(2, 1, 60, 60)
    denoiser = RecordingDenoiser(torch.tensor(40.0))  # f = 1, prediction 1
    out = diffusion.sample(denoiser, image, coarse, generator=torch.Generator().manual_seed(0))
    steps = [t.tolist() for _, t in denoiser.calls]
    assert steps == [[5, 5], [4, 4], [3, 3], [2, 2], [1, 1], [0, 0]]
    first_input = denoiser.calls[0][0]
    assert torch.equal(first_input[:, :3], image) and torch.equal(first_input[:, 3:], coarse)
    # With f = 1, c after step t is b[t-1]: 0.16 after t = 5 ... 1 after t = 0.
    second_mask = denoiser.calls[1][0][:, 3:]
    assert abs(second_mask.mean().item() - 0.16) <= 4 * math.sqrt(0.16 * 0.84 / 7200)
    assert torch.allclose(out['cum_fine'], torch.ones_like(coarse))
    assert torch.equal(out['prob'], torch.ones_like(coarse))


def test_sample_partial_runs_compose_like_the_global_and_local_passes():
    diffusion = DiscreteMaskDiffusion()
    image, coarse = torch.randn(1, 3, 8, 8), torch.zeros(1, 1, 8, 8)
    global_pass = diffusion.sample(
        RecordingDenoiser(torch.tensor(40.0)),
        image,
        coarse,
        timesteps=[5, 4, 3, 2, 1],
        next_timestep=0)
    assert torch.allclose(global_pass['cum_fine'], torch.full_like(coarse, 0.8))
    # local pass: only t = 0 from a given c, p0 = 0.75 (f = 0.5): q = 0.5*0.2/(1-0.4) = 1/6
    local = RecordingDenoiser(torch.tensor(_logit(0.75)))
    start = torch.full_like(coarse, 0.8)
    out = diffusion.sample(local, image, coarse, timesteps=[0], cum_fine=start)
    assert [t.tolist() for _, t in local.calls] == [[0]]
    assert torch.allclose(out['cum_fine'], torch.full_like(coarse, 0.8 + 0.2 / 6))
    assert torch.allclose(out['prob'], torch.full_like(coarse, 0.75))


def mask_dependent_denoiser(x, t):
    """Logits whose prediction flips the current mask, so the random draws show."""
    return 1.5 * (1 - 2 * x[:, 3:]) + 0.5 * x[:, :1] + 0.1 * t.view(-1, 1, 1, 1)


def test_sample_same_seed_same_output_different_seed_differs():
    diffusion = DiscreteMaskDiffusion()
    image = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    coarse = (torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    runs = [
        diffusion.sample(
            mask_dependent_denoiser, image, coarse, generator=torch.Generator().manual_seed(seed))
        for seed in (3, 3, 4)
    ]
    for key in ('prob', 'cum_fine'):
        assert torch.equal(runs[0][key], runs[1][key])
    assert not torch.equal(runs[0]['prob'], runs[2]['prob'])


@pytest.mark.parametrize('timesteps', [[], [3, 4], [6, 5], [1, -1], [2, 2]])
def test_sample_rejects_bad_timesteps(timesteps):
    with pytest.raises(ValueError, match='timesteps'):
        DiscreteMaskDiffusion().sample(
            mask_dependent_denoiser,
            torch.zeros(1, 3, 4, 4),
            torch.zeros(1, 1, 4, 4),
            timesteps=timesteps)


def test_sample_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match='coarse'):
        DiscreteMaskDiffusion().sample(mask_dependent_denoiser, torch.zeros(1, 3, 4, 4),
                                       torch.zeros(1, 1, 4, 5))


def test_respaced_run_with_a_gap_matches_hand_computed_q_and_c():
    """timesteps (5, 3, 0): each step goes to the next one run, using b[t'] for b[t-1].

    With p0 = 0.75 everywhere (f = 0.5), b = (0.8, 0.64, 0.48, 0.32, 0.16, 0):
    5 -> 3: q = 0.5 * (0.32 - 0) / (1 - 0) = 0.16,          c = 0.16
    3 -> 0: q = 0.5 * (0.8 - 0.32) / (1 - 0.16) = 0.24/0.84, c = 0.16 + 0.84 * 0.24/0.84 = 0.4
    0 -> -1: q = 0.5 * (1 - 0.8) / (1 - 0.4) = 1/6,          c = 0.4 + 0.6 / 6 = 0.5
    """
    diffusion = DiscreteMaskDiffusion()
    prob = torch.full((1, 1, 1, 1), 0.75)
    assert diffusion.transition_prob(prob, 5, 3).item() == pytest.approx(0.16)
    assert diffusion.transition_prob(prob, 3, 0).item() == pytest.approx(0.24 / 0.84)
    assert diffusion.transition_prob(prob, 0, -1).item() == pytest.approx(1 / 6)

    image, coarse = torch.randn(2, 3, 60, 60), torch.zeros(2, 1, 60, 60)
    denoiser = RecordingDenoiser(torch.tensor(_logit(0.75)))
    out = diffusion.sample(
        denoiser, image, coarse, timesteps=(5, 3, 0), generator=torch.Generator().manual_seed(0))
    assert [t.tolist() for _, t in denoiser.calls] == [[5, 5], [3, 3], [0, 0]]
    assert torch.allclose(out['cum_fine'], torch.full_like(coarse, 0.5))
    # The mask fed at t = 3 keeps the prediction (1) with probability c = 0.16, at t = 0
    # with c = 0.4; elsewhere it is the coarse mask (0).
    for (x, _), c in zip(denoiser.calls[1:], (0.16, 0.4)):
        rate = x[:, 3:].mean().item()
        assert abs(rate - c) <= 4 * math.sqrt(c * (1 - c) / 7200), (rate, c)


def test_full_schedule_steps_to_t_minus_1():
    """Without a gap the respaced rule is the paper's: b[t-1]."""
    diffusion = DiscreteMaskDiffusion()
    prob = torch.tensor([0.0, 0.1, 0.5, 0.75, 1.0]).view(1, 1, 1, 5)
    for t in range(6):
        assert torch.equal(
            diffusion.transition_prob(prob, t), diffusion.transition_prob(prob, t, t - 1))
    image, coarse = torch.randn(1, 3, 8, 8), torch.zeros(1, 1, 8, 8)
    runs = [
        diffusion.sample(
            mask_dependent_denoiser,
            image,
            coarse,
            timesteps=timesteps,
            generator=torch.Generator().manual_seed(0)) for timesteps in (None, range(5, -1, -1))
    ]
    assert torch.equal(runs[0]['prob'], runs[1]['prob'])
    assert torch.equal(runs[0]['cum_fine'], runs[1]['cum_fine'])


def test_global_pass_with_a_gap_continues_at_the_local_step():
    """A global pass (5, 3) followed by a local step 0 ends at b[0], not b[2]."""
    diffusion = DiscreteMaskDiffusion()
    image, coarse = torch.randn(1, 3, 8, 8), torch.zeros(1, 1, 8, 8)
    confident = RecordingDenoiser(torch.tensor(40.0))  # f = 1: c after a step is b[next]
    out = diffusion.sample(confident, image, coarse, timesteps=(5, 3), next_timestep=0)
    assert torch.allclose(out['cum_fine'], torch.full_like(coarse, 0.8))
    ended = diffusion.sample(confident, image, coarse, timesteps=(5, 3))
    assert torch.allclose(ended['cum_fine'], torch.ones_like(coarse))


@pytest.mark.parametrize('timesteps,next_timestep', [((5, 3), 3), ((5, 3), 4), ((2, 1), -2)])
def test_sample_rejects_a_next_timestep_not_after_the_run(timesteps, next_timestep):
    with pytest.raises(ValueError, match='timesteps'):
        DiscreteMaskDiffusion().sample(
            mask_dependent_denoiser,
            torch.zeros(1, 3, 4, 4),
            torch.zeros(1, 1, 4, 4),
            timesteps=timesteps,
            next_timestep=next_timestep)


@pytest.mark.parametrize('t,next_t', [(3, 3), (3, 4), (6, 5), (0, -2)])
def test_transition_prob_rejects_steps_that_do_not_go_back(t, next_t):
    with pytest.raises(ValueError, match='reverse step'):
        DiscreteMaskDiffusion().transition_prob(torch.full((1, 1, 1, 1), 0.75), t, next_t)


def test_transition_prob_is_bit_identical_to_the_float32_tensor_formula():
    """The scalar schedule gives the very float32 numbers of the schedule as tensors."""
    diffusion = DiscreteMaskDiffusion()
    prob = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    schedule = torch.cat([diffusion.fine_prob(torch.arange(6)), torch.ones(1, dtype=torch.float64)])
    for t in range(6):
        for next_t in range(-1, t):
            now, nxt = schedule[t].float(), schedule[next_t].float()
            confidence = (2 * (prob - 0.5).abs()).clamp(0, 1)
            expected = (confidence * (nxt - now) / (1 - confidence * now)).clamp(0, 1)
            assert torch.equal(diffusion.transition_prob(prob, t, next_t), expected), (t, next_t)
