"""The fused optimizers compute the same updates as PyTorch's default ones, and `trainlab train`
uses them on a CPU."""
import copy

import pytest
import torch
from torch import nn

from trainlab.engine import create_optimizer
from trainlab.workflows import build_config
from trainlab.workflows.transfer import create_training_optimizer


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_fused_optimizer_takes_the_same_steps(name):
    torch.manual_seed(0)
    plain_model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    fused_model = copy.deepcopy(plain_model)
    start_model = copy.deepcopy(plain_model)
    plain = create_optimizer(name, plain_model.parameters(), lr=0.05, weight_decay=5e-4)
    fused = create_optimizer(name, fused_model.parameters(), lr=0.05, weight_decay=5e-4,
                             fused=True)
    assert fused.defaults["fused"] is True and not plain.defaults.get("fused")
    for _ in range(5):
        for a, b in zip(plain_model.parameters(), fused_model.parameters()):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        plain.step()
        fused.step()
    for a, b, start in zip(plain_model.parameters(), fused_model.parameters(),
                           start_model.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-6)
        assert not torch.equal(a, start)  # the steps did move the weights


def test_optimizers_without_a_fused_kernel_still_build():
    params = [nn.Parameter(torch.zeros(3))]
    for name in ("adamax", "rprop"):
        assert create_optimizer(name, params, lr=0.1, fused=True) is not None


def test_the_training_workflow_fuses_on_a_cpu_only():
    config = build_config(None, optimizer="sgd", epochs=2)
    model = nn.Linear(4, 2)
    cpu_optimizer, _ = create_training_optimizer(config, model, 10, torch.device("cpu"))
    assert cpu_optimizer.defaults["fused"] is True
    other, _ = create_training_optimizer(config, model, 10, torch.device("meta"))
    assert not other.defaults.get("fused")


def test_resuming_keeps_this_machines_optimizer_implementation():
    """A checkpoint saved by a plain optimizer (an older run, another machine) resumes with the
    fused one here, and the other way round; the saved momentum is what continues."""
    import torch.nn.functional as F

    from trainlab.engine import Runner

    def runner(fused):
        torch.manual_seed(0)
        model = nn.Linear(4, 2)
        optimizer = create_optimizer("sgd", model.parameters(), lr=0.1, fused=fused)
        return Runner(model, optimizer, F.cross_entropy, device="cpu", progress=False)

    saved = runner(fused=False)
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    F.cross_entropy(saved.model(x), y).backward()
    saved.optimizer.step()
    state = saved.training_state()
    for fused in (True, False):
        resumed = runner(fused)
        resumed.load_training_state(state)
        assert bool(resumed.optimizer.param_groups[0]["fused"]) is fused
        momentum = resumed.optimizer.state[resumed.optimizer.param_groups[0]["params"][0]]
        torch.testing.assert_close(momentum["momentum_buffer"],
                                   saved.optimizer.state[saved.optimizer.param_groups[0]
                                                         ["params"][0]]["momentum_buffer"])
