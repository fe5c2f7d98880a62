"""Time spent inside a module's forward calls, for the benchmarks' breakdowns."""
import time
from torch import nn


class ForwardTimer:
    """Forward hooks summing the wall seconds and counting the calls of ``module``.

    The hooks fire however the module is called (directly, or through
    ``torch.func.functional_call`` on its bf16 weights), so a benchmark can
    split a job's time into the network and the rest.
    """

    def __init__(self, module: nn.Module) -> None:
        self.seconds, self.calls, self._start = 0.0, 0, 0.0
        self._handles = [
            module.register_forward_pre_hook(self._before),
            module.register_forward_hook(self._after)
        ]

    def _before(self, module, args) -> None:
        self._start = time.perf_counter()

    def _after(self, module, args, output) -> None:
        self.seconds += time.perf_counter() - self._start
        self.calls += 1

    def reset(self) -> None:
        """Forget the calls so far."""
        self.seconds, self.calls = 0.0, 0

    def remove(self) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()
