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
from trainlab.engine.tap_trimming import continues, decayed
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
          callbacks=(), frozen=(), watch=True, rising_lr=False):
    """watch=False: no Spy reading the state every step (with weight decay, that reading is what
    brings the padding-only taps up to date); rising_lr: the learning rate changes every step."""
    model = copy.deepcopy(model)
    for key in frozen:
        model.get_parameter(key).requires_grad_(False)
    extra = {k: v for k, v in options.items() if k in ("nesterov", "dampening")}  # torch's own
    optimizer = create_optimizer(name, model.parameters(), lr=0.01, fused=True,
                                 **{"weight_decay": 0.0, **{k: v for k, v in options.items()
                                                            if k not in extra}})
    optimizer.param_groups[0].update(extra)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 + step) \
        if rising_lr else None
    spy = Spy()
    runner = Runner(model, optimizer, F.cross_entropy, device="cpu", precision=precision,
                    channels_last=channels_last, callbacks=[spy] * watch + [*callbacks],
                    progress=False, trim_taps=trim, scheduler=scheduler)
    runner.train(loader, num_epochs=epochs, log_steps=0, save_path="unused")
    spy.skipped = runner.padding_only_weights_not_stepped
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


SGD_DECAYING = ("sgd", {"momentum": 0.9, "weight_decay": 0.05})


@pytest.mark.parametrize("name, options, watch", [
    (*SGD_DECAYING, True), (*SGD_DECAYING, False),
    ("sgd", {"momentum": 0.9, "weight_decay": 0.05, "nesterov": True}, False),
    ("sgd", {"momentum": 0.0, "weight_decay": 0.05}, False),
    ("adamw", {"weight_decay": 0.05}, False)])
def test_with_weight_decay_the_padding_only_taps_decay_as_whole_kernels_do(
        resnet18, name, options, watch, tmp_path, monkeypatch):
    # The decay of the padding-only taps is applied when someone reads the model or optimizer:
    # every step (the Spy takes both state dicts), or only when train() ends. A learning rate
    # that changes every step makes each step's matrix differ.
    monkeypatch.chdir(tmp_path)
    loader = batches([28] * 3)
    plain, plain_optimizer, plain_spy = train(resnet18, name, options, False, loader, watch=watch,
                                              rising_lr=True)
    fast, fast_optimizer, fast_spy = train(resnet18, name, options, True, loader, watch=watch,
                                           rising_lr=True)
    assert fast_spy.skipped > 6_500_000 and plain_spy.skipped == 0  # of 11.2 million
    corner = fast.state_dict()["net.4.1.conv2.weight"][:, :, 0, 0]  # a padding-only tap
    start = resnet18.state_dict()["net.4.1.conv2.weight"][:, :, 0, 0]
    assert (corner - start).abs().max() > 1e-4 * start.abs().max()  # (the decay is visible)
    assert_same_state(fast.state_dict(), plain.state_dict())
    assert_same_state(fast_optimizer.state_dict(), plain_optimizer.state_dict())
    for got, want in zip(fast_spy.optimizer_states, plain_spy.optimizer_states):
        assert_same_state(got, want)
    assert_same_state(dict(enumerate(fast_spy.kernels)), dict(enumerate(plain_spy.kernels)))


def test_weight_decay_through_the_moments_or_with_dampening_leaves_the_kernels_whole(
        resnet18, tmp_path, monkeypatch):
    # Adam's L2 decay moves the padding-only taps through its (non-linear) moments, and SGD's
    # dampening makes its first step differ from the rest: neither is trimmed
    monkeypatch.chdir(tmp_path)
    for name, options in [("adam", {"weight_decay": 5e-4}),
                          ("sgd", {"momentum": 0.9, "weight_decay": 5e-4, "dampening": 0.1})]:
        _, _, spy = train(resnet18, name, options, True, batches([28] * 2), epochs=1)
        assert spy.trimmed == [0, 0] and spy.skipped == 0, name


@pytest.mark.parametrize("weight_decay, watch", [(0.0, True), (0.05, False)])
def test_another_input_size_puts_the_full_kernels_back(resnet18, weight_decay, watch, tmp_path,
                                                       monkeypatch):
    # a 64x64 batch in the middle: the last stage then sees 2x2 pixels, every tap gets a gradient
    # (with weight decay its forward must see the padding-only taps decayed so far)
    monkeypatch.chdir(tmp_path)
    loader, options = batches([28, 28, 64, 28]), {"momentum": 0.9, "weight_decay": weight_decay}
    plain, _, _ = train(resnet18, "sgd", options, False, loader, epochs=1, watch=watch)
    fast, _, spy = train(resnet18, "sgd", options, True, loader, epochs=1, watch=watch)
    if watch:
        assert spy.trimmed == [4, 4, 0, 0]  # and it stays off for the rest of this train()
    assert spy.skipped > 0
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
    """After step 1, load the weights the model started from (as `Runner.load_model` does), or
    write them into the parameters in place."""

    def __init__(self, weights, in_place=False, then_read=False):
        self.weights, self.in_place, self.then_read = weights, in_place, then_read

    def on_step_end(self, runner, loader):
        if runner.global_step == 2 and self.in_place:
            with torch.no_grad():
                for name, parameter in runner.model.named_parameters():
                    parameter.copy_(self.weights[name])
        elif runner.global_step == 2:
            runner.model.load_state_dict(self.weights)
        if runner.global_step == 2 and self.then_read:  # (as a checkpoint right after would)
            state = runner.model.state_dict()
            assert_same_state({name: state[name] for name, _ in runner.model.named_parameters()},
                              {name: self.weights[name] for name, _ in runner.model.named_parameters()})


@pytest.mark.parametrize("weight_decay, how", [(0.0, "load_state_dict"), (0.05, "load_state_dict"),
                                               (0.05, "written in place, then read")])
def test_weights_loaded_during_training_reach_the_trimmed_taps(resnet18, weight_decay, how,
                                                               tmp_path, monkeypatch):
    # With weight decay: the decay before the load applied to the old weights (the momentum
    # keeps it), the loaded ones decay from there on. The Spy does not watch here: a state dict
    # every step would bring the taps up to date before each load.
    monkeypatch.chdir(tmp_path)
    load = LoadWeights(resnet18.state_dict(), in_place=how.startswith("written in place"),
                       then_read=how.endswith("then read"))
    loader, options = batches([28] * 4), {"momentum": 0.9, "weight_decay": weight_decay}
    plain, plain_optimizer, _ = train(resnet18, "sgd", options, False, loader, epochs=1,
                                      callbacks=[load], watch=False)
    fast, fast_optimizer, spy = train(resnet18, "sgd", options, True, loader, epochs=1,
                                      callbacks=[load], watch=False)
    assert spy.skipped > 0
    assert_same_state(fast.state_dict(), plain.state_dict())
    assert_same_state(fast_optimizer.state_dict(), plain_optimizer.state_dict())


class CopyModel:
    def __init__(self, path):
        self.path = path

    def on_step_end(self, runner, loader):
        if runner.global_step == 2:
            self.copy = copy.deepcopy(runner.model)
            torch.save(runner.model, self.path)  # pickled: the hooks during training are left out
            self.state = copy.deepcopy(runner.model.state_dict())


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_a_copy_taken_during_training_is_a_plain_model(resnet18, weight_decay, tmp_path,
                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    spy, options = CopyModel(tmp_path / "model.pt"), {"momentum": 0.9, "weight_decay": weight_decay}
    loader = batches([28] * 3)
    _, _, trims = train(resnet18, "sgd", options, True, loader, epochs=1, callbacks=[spy],
                        channels_last=True, watch=False)
    plain = CopyModel(tmp_path / "plain.pt")
    train(resnet18, "sgd", options, False, loader, epochs=1, callbacks=[plain], channels_last=True,
          watch=False)
    assert trims.skipped > 0
    pickled = torch.load(tmp_path / "model.pt", weights_only=False)
    for model in (spy.copy, pickled):
        assert not any(key in module.__dict__ for module in model.modules()
                       for key in ("trained_taps", "trained_taps_slices", "kernel_version",
                                   "bring_taps_up_to_date", "catch_write"))
        assert not any(module._state_dict_hooks or module._state_dict_pre_hooks
                       for module in model.modules())
        assert_same_state(model.state_dict(), spy.state)
    assert_same_state(spy.state, plain.state)  # up to date with the weight decay so far


class StartWeightDecay:
    """After step 1, the weight decay goes from 0 to 0.05 (as a scheduler of it would)."""

    def on_step_end(self, runner, loader):
        if runner.global_step == 2:
            runner.optimizer.param_groups[0]["weight_decay"] = 0.05


def test_weight_decay_switched_on_during_training_puts_the_full_kernels_back(resnet18, tmp_path,
                                                                             monkeypatch):
    # trimmed without weight decay, the padding-only taps were left alone; from the step that
    # decays them on, the optimizer steps whole kernels again
    monkeypatch.chdir(tmp_path)
    loader, options = batches([28] * 4), {"momentum": 0.9}
    plain, _, _ = train(resnet18, "sgd", options, False, loader, epochs=1,
                        callbacks=[StartWeightDecay()])
    fast, _, spy = train(resnet18, "sgd", options, True, loader, epochs=1,
                         callbacks=[StartWeightDecay()])
    assert spy.trimmed == [4, 4, 0, 0]
    assert_same_state(fast.state_dict(), plain.state_dict())


def test_a_step_that_gives_a_kernel_no_gradient_does_not_decay_it(resnet18, tmp_path, monkeypatch):
    # the optimizer skips a parameter without a gradient, weight decay and all: at step 2 the last
    # stage's output is detached, so its kernels get none
    monkeypatch.chdir(tmp_path)
    loader, options = batches([28] * 4), {"momentum": 0.9, "weight_decay": 0.05}
    runs = []
    for trim in (False, True):
        model, calls = copy.deepcopy(resnet18), []

        def detach_at_step_2(module, inputs, output, calls=calls):
            calls.append(1)
            return output.detach() if len(calls) == 2 else output
        model.get_submodule("net.4").register_forward_hook(detach_at_step_2)
        runs.append(train(model, "sgd", options, trim, loader, epochs=1, watch=False))
    (plain, _, _), (fast, _, spy) = runs
    assert spy.skipped > 0
    assert_same_state(fast.state_dict(), plain.state_dict())


def test_a_resume_state_is_used_only_for_the_kernel_it_describes():
    # resume.pt's start and product for a kernel whose taps [1:3, 1:3] saw the image (trained:
    # not start x product there); a resumed run uses them only if they give exactly what the
    # kernel and momentum hold at every tap that is padding-only now
    generator = torch.Generator().manual_seed(0)
    start = {k: torch.randn(4, 4, 3, 3, generator=generator, dtype=torch.float64)
             for k in ("weight", "momentum")}
    saved = {"kind": "sgd", "matrix": [0.99, -0.009, 0.05, 0.9], **start}
    weight, momentum = decayed(saved)
    weight[:, :, 1:3, 1:3] += 1.0  # what the optimizer made of the in-image taps
    momentum[:, :, 1:3, 1:3] -= 1.0
    in_image = (slice(1, 3), slice(1, 3))
    assert continues(saved, "sgd", weight, momentum, *in_image)
    assert continues(saved, "sgd", weight, momentum, slice(0, 3), slice(0, 3))  # a larger image
    assert not continues(saved, "sgd", weight, momentum, slice(1, 2), slice(1, 2))  # a smaller one
    assert not continues(saved, "adamw", weight, momentum, *in_image)
    assert not continues(saved, "sgd", weight, None, *in_image)
    loaded = weight.clone()
    loaded[0, 0, 0, 0] += 1e-12  # weights loaded since, say
    assert not continues(saved, "sgd", loaded, momentum, *in_image)
    assert continues({**saved, "matrix": [1.0, 0.0, 0.0, 1.0]}, "sgd", start["weight"],
                     start["momentum"], *in_image)
