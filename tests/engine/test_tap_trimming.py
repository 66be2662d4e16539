"""Stepping only the in-image taps of single-pixel convolutions trains what stepping the whole
kernels trains, and saves what a plain run saves (engine/tap_trimming.py). Compared in float64:
the two differ by float rounding only (the optimizer's kernels round a tensor's last elements
their own way, so a smaller tensor rounds a few elements differently), which float64 makes
tiny; a missed or doubled update is not."""
import copy

import pytest
import torch
import torch.nn.functional as F

from trainlab.engine import Runner, create_optimizer
from trainlab.models import create_model

OPTIMIZERS = [("sgd", {"momentum": 0.9}), ("adam", {}), ("adamw", {"weight_decay": 0.0})]


class Spy:
    """Each step: how many kernels the optimizer had trimmed, the resume state's optimizer, and
    a trimmed kernel as the model holds it (what evaluation and checkpoints read)."""

    def __init__(self):
        self.trimmed, self.optimizer_states, self.kernels = [], [], []

    def on_step_end(self, runner, loader):
        self.trimmed.append(len(runner._trimmer.trimmed) if hasattr(runner._trimmer, "trimmed")
                            else 0)
        self.optimizer_states.append(copy.deepcopy(runner.training_state()["optimizer"]))
        self.kernels.append(runner.model.state_dict()["net.4.1.conv2.weight"].clone())


def batches(sizes, seed=0, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(6, 1, size, size, generator=generator, dtype=dtype),
             torch.randint(0, 10, (6,), generator=generator)) for size in sizes]


def train(model, name, options, trim, loader, precision="fp32", channels_last=False, epochs=2,
          callbacks=(), frozen=()):
    model = copy.deepcopy(model)
    for key in frozen:
        model.get_parameter(key).requires_grad_(False)
    optimizer = create_optimizer(name, model.parameters(), lr=0.01, fused=True,
                                 **{"weight_decay": 0.0, **options})
    spy = Spy()
    runner = Runner(model, optimizer, F.cross_entropy, device="cpu", precision=precision,
                    channels_last=channels_last, callbacks=[spy, *callbacks], progress=False,
                    trim_taps=trim)
    runner.train(loader, num_epochs=epochs, log_steps=0, save_path="unused")
    return model, optimizer, spy


def assert_same_state(got: dict, want: dict):
    """Equal up to float64 rounding (Adam's division amplifies it to about 1e-9)."""
    assert got.keys() == want.keys()
    for key, value in want.items():
        if torch.is_tensor(value):
            torch.testing.assert_close(got[key], value, rtol=1e-7, atol=1e-8, msg=key)
            assert got[key].stride() == value.stride(), key  # the same memory layout too
        elif isinstance(value, dict):
            assert_same_state(got[key], value)
        else:
            assert got[key] == value, key


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return create_model("resnet18", in_channels=1, num_classes=10, input_size=(28, 28)).double()


@pytest.mark.parametrize("name, options, channels_last",
                         [(*optimizer, False) for optimizer in OPTIMIZERS] + [(*OPTIMIZERS[0], True)])
def test_trimmed_training_is_plain_training(resnet18, name, options, channels_last, tmp_path,
                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    loader = batches([28] * 3)
    plain, plain_optimizer, plain_spy = train(resnet18, name, options, False, loader,
                                              channels_last=channels_last)
    fast, fast_optimizer, fast_spy = train(resnet18, name, options, True, loader,
                                           channels_last=channels_last)
    # ResNet-18 on 28x28: the four 3x3 kernels of its last stage (its 1x1 shortcut has one tap)
    assert plain_spy.trimmed == [0] * 6 and fast_spy.trimmed == [4] * 6
    assert_same_state(fast.state_dict(), plain.state_dict())
    assert_same_state(fast_optimizer.state_dict(), plain_optimizer.state_dict())
    for got, want in zip(fast_spy.optimizer_states, plain_spy.optimizer_states):
        assert_same_state(got, want)  # resume checkpoints hold the plain optimizer's state
    assert_same_state(dict(enumerate(fast_spy.kernels)), dict(enumerate(plain_spy.kernels)))
    assert all(p.grad is None for p in fast.parameters())


def test_bf16_channels_last_trains_as_without_trimming(resnet18, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loader = batches([28] * 3, dtype=torch.float32)
    runs = [train(copy.deepcopy(resnet18).float(), "sgd", {"momentum": 0.9}, trim, loader, "bf16", True)
            for trim in (False, True)]
    (plain, _, _), (fast, _, spy) = runs
    assert spy.trimmed[-1] == 4
    for key, value in plain.state_dict().items():  # bf16 products: the same up to their rounding
        torch.testing.assert_close(fast.state_dict()[key], value, rtol=2e-2, atol=2e-3, msg=key)


def test_weight_decay_leaves_the_kernels_whole(resnet18, tmp_path, monkeypatch):
    # with weight decay the plain run shrinks the padding-only taps: nothing is trimmed
    monkeypatch.chdir(tmp_path)
    _, _, spy = train(resnet18, "sgd", {"momentum": 0.9, "weight_decay": 5e-4}, True,
                      batches([28] * 2), epochs=1)
    assert spy.trimmed == [0, 0]


def test_another_input_size_puts_the_full_kernels_back(resnet18, tmp_path, monkeypatch):
    # a 64x64 batch in the middle: the last stage then sees 2x2 pixels, every tap gets a gradient
    monkeypatch.chdir(tmp_path)
    loader = batches([28, 28, 64, 28])
    plain, _, _ = train(resnet18, "sgd", {"momentum": 0.9}, False, loader, epochs=1)
    fast, _, spy = train(resnet18, "sgd", {"momentum": 0.9}, True, loader, epochs=1)
    assert spy.trimmed == [4, 4, 0, 0]  # and it stays off for the rest of this train()
    assert_same_state(fast.state_dict(), plain.state_dict())


def test_a_frozen_kernel_stays_frozen(resnet18, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loader, frozen = batches([28] * 2), ["net.4.1.conv2.weight"]
    plain, _, _ = train(resnet18, "sgd", {"momentum": 0.9}, False, loader, epochs=1, frozen=frozen)
    fast, _, spy = train(resnet18, "sgd", {"momentum": 0.9}, True, loader, epochs=1, frozen=frozen)
    assert spy.trimmed == [3, 3]
    assert torch.equal(fast.state_dict()[frozen[0]], resnet18.state_dict()[frozen[0]])
    assert_same_state(fast.state_dict(), plain.state_dict())


class LoadWeights:
    """After step 1, load the weights the model started from (as `Runner.load_model` does)."""

    def __init__(self, weights):
        self.weights = weights

    def on_step_end(self, runner, loader):
        if runner.global_step == 2:
            runner.model.load_state_dict(self.weights)


def test_weights_loaded_during_training_reach_the_trimmed_taps(resnet18, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loader, load = batches([28] * 4), [LoadWeights(resnet18.state_dict())]
    plain, _, _ = train(resnet18, "sgd", {"momentum": 0.9}, False, loader, epochs=1, callbacks=load)
    fast, _, spy = train(resnet18, "sgd", {"momentum": 0.9}, True, loader, epochs=1, callbacks=load)
    assert spy.trimmed == [4] * 4
    assert_same_state(fast.state_dict(), plain.state_dict())


class CopyModel:
    def on_step_end(self, runner, loader):
        if runner.global_step == 2:
            self.copy = copy.deepcopy(runner.model)
            self.state = copy.deepcopy(runner.model.state_dict())


def test_a_copy_taken_during_training_is_a_plain_model(resnet18, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spy = CopyModel()
    _, _, trims = train(resnet18, "sgd", {"momentum": 0.9}, True, batches([28] * 3), epochs=1,
                        callbacks=[spy])
    assert trims.trimmed == [4] * 3
    assert not any(key in module.__dict__ for module in spy.copy.modules()
                   for key in ("trained_taps", "trained_taps_slices", "kernel_version"))
    assert_same_state(spy.copy.state_dict(), spy.state)
