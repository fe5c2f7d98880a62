"""BF16AmpOptimWrapper: ``--amp`` on a CPU (bf16 autocast, no loss scaler)."""
import torch

from mmseg_refiner.engine import BF16AmpOptimWrapper


def test_bf16_optim_wrapper_runs_the_forward_in_bf16_and_steps_in_fp32():
    model = torch.nn.Linear(4, 2)
    wrapper = BF16AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16 and not torch.is_autocast_enabled('cpu')
    wrapper.update_params(out.float().square().mean())
    assert model.weight.dtype == torch.float32 and not torch.equal(model.weight, before)
