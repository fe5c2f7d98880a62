"""SegRefiner's discrete mask diffusion (paper Alg. 1 and 2).

Each pixel of the mask being refined is in one of two states: *fine* (it holds
the refined / ground-truth value) or *coarse* (it holds the coarse mask's
value). ``b[t]`` is the probability that a pixel is fine at step ``t``; it
falls linearly from ``b[0] = start`` to ``b[T-1] = end``, and ``b[-1] = 1``
(before the first forward step every pixel is fine).

This module owns the schedule, the forward transition and the reverse step. It
has no parameters and never holds the network: :meth:`sample` takes the
denoising function as an argument (the improved-diffusion layout).
"""
import torch
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmseg_refiner.registry import MODELS
from mmseg_refiner.utils.settings import check_float, check_int
from .early_stop import still_moving

DenoiseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Generators = Union[torch.Generator, Sequence[torch.Generator], None]


def uniform(shape: Sequence[int], generator: Generators, device: torch.device) -> torch.Tensor:
    """``U[0, 1)`` draws of ``shape`` (batch first) from one generator or one per row.

    With one generator per row, row ``i`` is drawn from ``generator[i]`` alone,
    so its values do not depend on which other rows share the batch.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return torch.rand(tuple(shape), generator=generator, device=device)
    if len(generator) != shape[0]:
        raise ValueError(f'{len(generator)} generators for a batch of {shape[0]}')
    return torch.cat([
        torch.rand((1, *shape[1:]), generator=row_generator, device=device)
        for row_generator in generator
    ])


def _rows(x: torch.Tensor, rows: Optional[torch.Tensor]) -> torch.Tensor:
    """``x[rows]``, or ``x`` itself when ``rows`` is None (every row)."""
    return x if rows is None else x[rows]


def _put_rows(full: Optional[torch.Tensor], rows: Optional[torch.Tensor],
              values: torch.Tensor) -> torch.Tensor:
    """``values`` for every row (``rows`` None), else a copy of ``full`` with ``rows`` set."""
    if rows is None:
        return values
    full = full.clone()
    full[rows] = values.to(full.dtype)
    return full


def _row_generators(generator: Generators, rows: Optional[torch.Tensor]) -> Generators:
    """The generators of ``rows`` when there is one per row; else ``generator`` as it is."""
    if rows is None or generator is None or isinstance(generator, torch.Generator):
        return generator
    return [generator[i] for i in rows.tolist()]


@MODELS.register_module()
class DiscreteMaskDiffusion:
    """Schedule, forward transition and reverse step of the mask diffusion.

    Args:
        num_timesteps (int): number of steps ``T``; timesteps are ``0..T-1``,
            ``T-1`` being the coarsest. Defaults to 6.
        start (float): ``b[0]``, the fine-state probability at ``t = 0``.
            Must be below 1 so that the reverse transition's denominator
            ``1 - f * b[t]`` stays at least ``1 - start > 0``. Defaults to 0.8.
        end (float): ``b[T-1]``, the fine-state probability at the coarsest
            step. Defaults to 0.0.
    """

    def __init__(self, num_timesteps: int = 6, start: float = 0.8, end: float = 0.0) -> None:
        num_timesteps = check_int('DiscreteMaskDiffusion', 'num_timesteps', num_timesteps, low=1)
        start = check_float('DiscreteMaskDiffusion', 'start', start)
        end = check_float('DiscreteMaskDiffusion', 'end', end)
        if not 0.0 <= end <= start < 1.0:
            raise ValueError(f'DiscreteMaskDiffusion: the schedule needs 0 <= end <= start < 1 '
                             f'(b[t] must not increase with t, and b[t] = 1 would make the '
                             f'reverse transition 0/0), got start={start}, end={end}')
        self.num_timesteps = num_timesteps
        self.start = start
        self.end = end
        # float64 on the CPU; cast to the data's dtype/device where used.
        self._fine_probs = torch.linspace(
            start, end, num_timesteps, dtype=torch.float64, device='cpu')
        # The reverse steps' values as Python floats (no tensor, no device copy), rounded
        # to float32 as the float32 masks use them; [-1] is b[-1] = 1.
        self._fine_prob_values = self._fine_probs.float().tolist() + [1.0]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_timesteps={self.num_timesteps}, '
                f'start={self.start}, end={self.end})')

    @property
    def default_timesteps(self) -> List[int]:
        """All steps of a full reverse run: ``[T-1, ..., 0]``."""
        return list(range(self.num_timesteps - 1, -1, -1))

    def fine_prob(self, t: Union[int, torch.Tensor]) -> torch.Tensor:
        """``b[t]``, the probability that a pixel is fine at step ``t``.

        Args:
            t (int | Tensor): step(s) in ``[-1, T)``; ``-1`` (the step before
                ``t = 0``) gives 1.

        Returns:
            Tensor: float64 tensor of ``t``'s shape, on ``t``'s device.
        """
        t = torch.as_tensor(t)
        if t.is_floating_point() or t.min() < -1 or t.max() >= self.num_timesteps:
            raise ValueError(f'DiscreteMaskDiffusion: timesteps must be integers in '
                             f'[-1, {self.num_timesteps}), got {t.tolist()}')
        probs = torch.cat([self._fine_probs, self._fine_probs.new_ones(1)]).to(t.device)
        return probs[t]  # index -1 picks the appended 1

    def _per_sample(self, values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Cast per-sample values (scalar or (N,)) to broadcast against ``like`` (N,1,H,W)."""
        values = values.to(device=like.device, dtype=like.dtype)
        return values.reshape(-1, *([1] * (like.dim() - 1))) if values.dim() else values

    def q_sample(self,
                 fine: torch.Tensor,
                 coarse: torch.Tensor,
                 t: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Forward transition: the mask state ``m_t`` at step ``t`` (Alg. 1).

        Every pixel independently keeps its fine value with probability
        ``b[t]``, else takes its coarse value:
        ``m_t = x * fine + (1 - x) * coarse``, ``x ~ Bernoulli(b[t])``.

        Args:
            fine (Tensor): (N, 1, H, W) fine (ground-truth) mask, {0, 1}.
            coarse (Tensor): (N, 1, H, W) coarse mask, {0, 1}.
            t (Tensor): (N,) integer steps, one per sample.
            generator (torch.Generator, optional): source of the draw.

        Returns:
            Tensor: (N, 1, H, W) float mask ``m_t``.
        """
        if fine.shape != coarse.shape or fine.dim() != 4 or t.shape != fine.shape[:1]:
            raise ValueError(f'q_sample expects fine and coarse of one shape (N, 1, H, W) and t '
                             f'of shape (N,), got {tuple(fine.shape)}, {tuple(coarse.shape)}, '
                             f'{tuple(t.shape)}')
        fine, coarse = fine.float(), coarse.float()
        keep_fine_prob = self._per_sample(self.fine_prob(t), fine)
        draw = torch.rand(fine.shape, generator=generator, device=fine.device)
        return torch.where(draw < keep_fine_prob, fine, coarse)

    def transition_prob(self,
                        prob: torch.Tensor,
                        t: int,
                        next_t: Optional[int] = None) -> torch.Tensor:
        """Probability ``q`` that a coarse pixel turns fine in the step ``t -> next_t``.

        ``q = f * (b[next_t] - b[t]) / (1 - f * b[t])`` with the network's
        confidence ``f = 2 * |p0 - 0.5|``. A full run steps ``t -> t-1``; a run
        over a sub-sequence of the steps jumps from ``t`` to the next step it
        runs, ``next_t < t``, and uses ``b[next_t]`` where the full run uses
        ``b[t-1]`` (the respacing of improved-diffusion: the respaced process
        is the same forward process observed at fewer steps). The schedule
        check in the constructor (``b[t] <= start < 1``, ``f <= 1``) keeps the
        denominator at least ``1 - start``, so no clamping of it is needed; the
        result lies in ``[0, 1]`` (``q = 1`` exactly when ``f = 1`` and
        ``next_t = -1``).

        Args:
            prob (Tensor): (N, 1, H, W) predicted fine-mask probability ``p0``.
            t (int): the current step, in ``[0, T)``.
            next_t (int, optional): the step the transition goes to, in
                ``[-1, t)``. Defaults to ``t - 1``.

        Returns:
            Tensor: (N, 1, H, W) ``q``, in ``prob``'s dtype.
        """
        t = int(t)
        next_t = t - 1 if next_t is None else int(next_t)
        if not -1 <= next_t < t < self.num_timesteps:
            raise ValueError(f'DiscreteMaskDiffusion: a reverse step goes from t in '
                             f'[0, {self.num_timesteps}) to an earlier step >= -1, got '
                             f'{t} -> {next_t}')
        fine_now = self._fine_prob_values[t]
        # Exact in double, rounded once where it meets the float32 tensor: the float32
        # difference b[next_t] - b[t].
        fine_gain = self._fine_prob_values[next_t] - fine_now
        confidence = (2 * (prob - 0.5).abs()).clamp(0, 1)
        return (confidence * fine_gain / (1 - confidence * fine_now)).clamp(0, 1)

    def reverse_step(self,
                     logits: torch.Tensor,
                     coarse: torch.Tensor,
                     cum_fine: torch.Tensor,
                     t: int,
                     next_t: Optional[int] = None,
                     sample_mask: bool = True,
                     generator: Generators = None) -> Dict[str, torch.Tensor]:
        """One reverse step ``t -> next_t`` (Alg. 2) given the network's logits.

        ``c <- c + (1 - c) * q`` accumulates the probability that a pixel is
        fine (``q`` from :meth:`transition_prob`). The next mask state keeps
        the network's prediction ``[logits >= 0]`` where ``x ~ Bernoulli(c)``
        selects a pixel and goes back to the **coarse** mask elsewhere.

        Args:
            logits (Tensor): (N, 1, H, W) network output at step ``t``.
            coarse (Tensor): (N, 1, H, W) coarse mask, {0, 1}.
            cum_fine (Tensor): (N, 1, H, W) cumulative fine probability ``c``
                before this step.
            t (int): the current step.
            next_t (int, optional): the step after it, ``t - 1`` (the
                default) in a full run.
            sample_mask (bool): draw the next mask state. False at the last
                step of a run, whose output is the probability. Defaults to
                True.
            generator (torch.Generator | Sequence[torch.Generator], optional):
                source of the draw; one per row makes each row's draw
                independent of the batch it is in (see :func:`uniform`).

        Returns:
            dict: ``prob`` (sigmoid of ``logits``), ``cum_fine`` (updated
            ``c``) and, when ``sample_mask``, ``mask`` (the next {0, 1}
            state), all float32 whatever the logits' dtype.
        """
        logits = logits.float()  # keep c accurate under bf16/fp16 autocast
        prob = logits.sigmoid()
        cum_fine = cum_fine.float()
        cum_fine = cum_fine + (1 - cum_fine) * self.transition_prob(prob, t, next_t)
        out = dict(prob=prob, cum_fine=cum_fine)
        if sample_mask:
            selected = uniform(cum_fine.shape, generator, cum_fine.device) < cum_fine
            out['mask'] = torch.where(selected, (logits >= 0).float(), coarse.float())
        return out

    def check_timesteps(self,
                        timesteps: Sequence[int],
                        next_timestep: int = -1,
                        what: str = 'timesteps') -> List[int]:
        """``timesteps`` as a list of ints after checking they can be run.

        A run's steps are a non-empty, strictly decreasing sub-sequence of
        ``T-1..0``, all above ``next_timestep`` (the step that follows the run).

        Raises:
            ValueError: naming ``what`` (e.g. the config key) and the steps.
        """
        steps = [int(t) for t in timesteps]
        if (not steps or any(b >= a for a, b in zip(steps, steps[1:]))
                or steps[0] >= self.num_timesteps or steps[-1] <= next_timestep
                or next_timestep < -1):
            raise ValueError(f'{what} must be a non-empty, strictly decreasing sequence of steps '
                             f'in [0, {self.num_timesteps}) ending above the step that follows '
                             f'the run ({next_timestep}), got {list(timesteps)}')
        return steps

    def sample(self,
               denoise_fn: DenoiseFn,
               image: torch.Tensor,
               coarse: torch.Tensor,
               timesteps: Optional[Sequence[int]] = None,
               cum_fine: Optional[torch.Tensor] = None,
               generator: Generators = None,
               next_timestep: int = -1,
               early_stop: Optional[dict] = None) -> Dict[str, torch.Tensor]:
        """Run the reverse process over ``timesteps``, starting from ``coarse``.

        Instance refinement runs all steps ``T-1..0``; the high-resolution
        refiner's global pass runs ``T-1..1`` and its local patches only ``0``,
        starting from the global ``cum_fine`` cropped to the patch. A
        sub-sequence (e.g. ``(5, 3, 0)``) runs fewer network calls: each step
        goes to the next one given (see :meth:`transition_prob`), the last one
        to ``next_timestep``.

        Args:
            denoise_fn (callable): ``denoise_fn(x, t) -> logits`` with ``x``
                the (N, 4, H, W) concatenation of ``image`` and the current
                mask and ``t`` the (N,) long steps.
            image (Tensor): (N, 3, H, W) normalized image.
            coarse (Tensor): (N, 1, H, W) coarse mask, {0, 1}: the initial
                state, and the state unselected pixels return to.
            timesteps (Sequence[int], optional): strictly decreasing steps in
                ``[0, T)``. Defaults to ``T-1..0``.
            cum_fine (Tensor, optional): (N, 1, H, W) initial cumulative fine
                probability ``c``. Defaults to zeros.
            generator (torch.Generator | Sequence[torch.Generator], optional):
                source of every draw, one for the batch or one per row.
            next_timestep (int): the step that follows the last of
                ``timesteps``: where a later run continues (the local patches
                after the global pass), or -1 (the default), the end of the
                process.
            early_stop (dict, optional): ``dict(max_changed=f)``: a row stops
                after a step where at most a fraction ``f`` of its pixels
                changed their predicted label since the previous step
                (:mod:`.early_stop`); its later steps are not run. None (the
                default): every row runs every step.

        Returns:
            dict: ``prob`` (N, 1, H, W), the network's probability at each
            row's last step, ``cum_fine`` (N, 1, H, W), ``c`` after it
            (float32), and ``steps`` (N,) long, how many steps each row ran.
        """
        timesteps = self.check_timesteps(self.default_timesteps if timesteps is None else timesteps,
                                         next_timestep)
        if (image.dim() != 4 or coarse.dim() != 4 or coarse.shape[1] != 1
                or image.shape[0] != coarse.shape[0] or image.shape[2:] != coarse.shape[2:]):
            raise ValueError(f'sample: expects image (N, 3, H, W) and coarse (N, 1, H, W), got '
                             f'{tuple(image.shape)} and {tuple(coarse.shape)}')
        coarse = coarse.to(image.dtype)
        if cum_fine is None:
            cum_fine = torch.zeros_like(coarse)
        elif cum_fine.shape != coarse.shape:
            raise ValueError(f'sample: cum_fine has shape {tuple(cum_fine.shape)}, coarse '
                             f'{tuple(coarse.shape)}')
        mask = coarse
        num_rows = image.shape[0]
        steps = torch.zeros(num_rows, dtype=torch.long, device=image.device)
        rows = None  # the rows still sampling (early_stop); None: all of them
        prob = previous = None
        for t, next_t in zip(timesteps, timesteps[1:] + [next_timestep]):
            is_last = next_t == next_timestep
            t_batch = torch.full((num_rows if rows is None else len(rows), ),
                                 t,
                                 dtype=torch.long,
                                 device=image.device)
            logits = denoise_fn(torch.cat([_rows(image, rows), _rows(mask, rows)], dim=1), t_batch)
            step = self.reverse_step(
                logits,
                _rows(coarse, rows),
                _rows(cum_fine, rows),
                t,
                next_t,
                sample_mask=not is_last,
                generator=_row_generators(generator, rows))
            prob = _put_rows(prob, rows, step['prob'])
            cum_fine = _put_rows(cum_fine, rows, step['cum_fine'])
            steps = _put_rows(steps, rows, _rows(steps, rows) + 1)
            if is_last:
                break
            mask = _put_rows(mask, rows, step['mask'].to(image.dtype))
            if early_stop is not None:
                rows, previous = still_moving(rows, previous, step['prob'] >= 0.5,
                                              early_stop['max_changed'])
                if rows is not None and len(rows) == 0:
                    break
        return dict(prob=prob, cum_fine=cum_fine, steps=steps)
