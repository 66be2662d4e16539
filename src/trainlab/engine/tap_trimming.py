"""The optimizer steps only the taps of single-pixel convolutions that see the image.

In a single-pixel convolution (engine/single_pixel.py) most of the kernel multiplies padding: in
ResNet-18's last stage on 28x28 images, 8 of the 9 taps of each 3x3 kernel, 7.0 of the model's
11.2 million weights. Their gradient is exactly zero, yet the optimizer reads and writes all of
them every step (weight, gradient, momentum; in channels-last also a copy of each gradient). On
the 2-core AMD EPYC, bf16 channels-last ResNet-18 trained at 863 images/s with this against 715
(in turns: `python benchmarks/bench_cpu_levers.py --steps 40 --rounds 4`).

A zero gradient on zero optimizer state without weight decay leaves a weight exactly as it is
(SGD with or without momentum, Adam, AdamW), so for those optimizers the same training needs only
the in-image taps in the optimizer. `TapTrimmer` does that during `Runner.train`, at the first
step (when each convolution has seen its input size): it gives the optimizer, in place of each
such trainable kernel, a small parameter holding its in-image taps, with that step's gradient
and the optimizer state sliced to match. After every step it writes the taps back into the
kernel, so the model, its state dict, checkpoints and evaluation hold the course's `nn.Conv2d`
weights; a write to a kernel meanwhile (loading weights) reaches the taps before the next
forward. `optimizer_state_dict` gives the state as a plain run has it (full size, the
padding-only taps' state, the kernel's layout), so resume checkpoints do not depend on it. It
puts the full kernels back when a step gave one of them a gradient (another input size) and
when `train` ends. Where it applies: `trims_taps`.

With weight decay (the CLI's default 5e-4) the padding-only taps still change, but by the same
numbers across a kernel: with SGD each step takes a tap's (weight, momentum) through one 2x2
matrix that depends on the step's learning rate; with AdamW (whose moments stay zero there) it
multiplies the weight by one factor. `TapTrimmer` multiplies those matrices as the steps go (a
few float operations per kernel) and applies the product to where the decay started, in one
pass over the kernel, only when someone looks: a state dict of the model or the optimizer
(checkpoints), a forward at another input size, a copy, the end of `train`. A reading changes
neither the start nor the product, and resume checkpoints carry both (`resume_state`), so a run
stopped anywhere (Ctrl-C included) and resumed rounds every later reading as a run never
stopped. Against whole kernels stepped, the padding-only taps differ by float rounding only
(one product instead of many steps), and they never meet an image at the size trained on.
Adam's L2 decay goes through its moments (not linear), so Adam with weight decay keeps whole
kernels; so do SGD with dampening, and a kernel whose group's decay or momentum is switched on
or off during `train` (from that step on).
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from . import distributed
from .single_pixel import SinglePixelConv2d, is_channels_last

# Optimizers for which a zero gradient, zero state and no weight decay mean no change at all.
TRIMMABLE = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW)


def trims_taps(optimizer, device: torch.device, compile: str = "none",
               clip_grad_norm: float | None = None) -> bool:
    """Whether the Runner trims (where the model has single-pixel convolutions): on a CPU, in one
    process, eager, without gradient clipping (which reads the model's own gradients), with
    SGD, Adam or AdamW and a decay `decay_kind` knows in every parameter group."""
    return (device.type == "cpu" and distributed.world_size() == 1 and compile == "none"
            and not clip_grad_norm and type(optimizer) in TRIMMABLE  # (None: evaluation only)
            and all(decay_kind(optimizer, group) for group in optimizer.param_groups))


def decay_kind(optimizer, group: dict) -> str | None:
    """What a zero gradient does to a weight of `group`: "none" (nothing, given zero optimizer
    state), "sgd" (weight decay through the momentum: linear, `step_matrix`), "adamw" (a factor,
    given zero moments), or None: not known here (Adam's L2 decay passes through its moments,
    SGD's dampening makes the first step differ, other optimizers)."""
    if type(optimizer) not in TRIMMABLE:
        return None
    if group.get("weight_decay", 0) == 0:
        return "none"
    if type(optimizer) is torch.optim.SGD and group.get("dampening", 0) == 0:
        return "sgd"
    if type(optimizer) is torch.optim.AdamW:
        return "adamw"
    return None


def settings(optimizer, group: dict) -> tuple:
    """What trimming a kernel of `group` relied on: its decay kind, and whether SGD had momentum."""
    return decay_kind(optimizer, group), group.get("momentum", 0) == 0


IDENTITY = (1.0, 0.0, 0.0, 1.0)


def step_matrix(kind: str, group: dict) -> tuple[float, float, float, float]:
    """(a, b, c, d): one step with a zero gradient takes (weight w, momentum m) to
    (a w + b m, c w + d m). SGD (PyTorch's): m' = momentum m + wd w, then w' = w - lr m', or with
    Nesterov w' = w - lr (wd w + momentum m'); a first step without a momentum buffer is the
    same with m = 0. AdamW: w' = (1 - lr wd) w."""
    lr, wd = float(group["lr"]), group["weight_decay"]
    momentum = group.get("momentum", 0) if kind == "sgd" else 0
    if momentum == 0:
        return (1 - lr * wd, 0.0, 0.0, 1.0)
    if group.get("nesterov"):
        return (1 - lr * wd * (1 + momentum), -lr * momentum * momentum, wd, momentum)
    return (1 - lr * wd, -lr * momentum, wd, momentum)


def compose(later: tuple, earlier: tuple) -> tuple:
    """The 2x2 matrix product later @ earlier, both as (a, b, c, d)."""
    a, b, c, d = later
    e, f, g, h = earlier
    return (a * e + b * g, a * f + b * h, c * e + d * g, c * f + d * h)


class NoTrimming:
    """What the Runner uses where trimming does not apply (a GPU, DDP, torch.compile...)."""

    skipped = 0  # weights left out of the optimizer step

    def before_step(self) -> None:
        pass

    def after_step(self) -> None:
        pass

    def untrim(self) -> None:
        pass

    def optimizer_state_dict(self, optimizer) -> dict:
        return optimizer.state_dict()

    def resume_state(self) -> dict:
        return {}


class TapTrimmer(NoTrimming):
    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, restored: dict | None = None):
        """restored: `resume_state()` of the run this one continues (resume checkpoints)."""
        self.optimizer = optimizer
        self.names = {m: name for name, m in model.named_modules() if isinstance(m, SinglePixelConv2d)}
        self.convs = list(self.names)
        self.restored = restored or {}
        self.trimmed: dict[SinglePixelConv2d, nn.Parameter] = {}  # conv -> its taps parameter
        self.layouts: dict[SinglePixelConv2d, torch.memory_format] = {}  # their kernels' own
        self.groups: dict[SinglePixelConv2d, dict] = {}  # their parameter groups, and the
        self.settings: dict[SinglePixelConv2d, tuple] = {}  # decay settings trimmed under
        # With weight decay, per trimmed conv: its decay kind, the kernel and momentum where the
        # padding-only taps' decay started (kept aside: readings leave them alone, a write to
        # the kernel restarts them), the product of the steps since, and the product the kernel
        # last showed (a reading that finds it there writes nothing)
        self.decays: dict[SinglePixelConv2d, dict] = {}
        self.hooks: list = []
        self.tried = False

    def before_step(self) -> None:
        """At the first step (every convolution has now seen its input size) trim, moving this
        step's kernel gradients onto the taps: every update, a resumed run's first included,
        then runs on the taps alike. Later, a full kernel with a gradient (a step at another
        input size) puts them all back, for this step and the rest of this `train`."""
        if not self.tried:
            self.tried = True
            for conv in self.convs:
                self.trim(conv)
            self.restored = {}  # (used once; the kernels' starts are held by `decays` now)
        elif any(conv.weight.grad is not None or self.settings[conv] != settings(
                self.optimizer, self.groups[conv]) for conv in self.trimmed):
            self.untrim()  # (or a scheduler changed the weight decay or momentum: whole kernels)
        for conv, decay in self.decays.items():  # the step about to run, at its learning rate
            if self.trimmed[conv].grad is not None:  # (the optimizer skips a kernel without one)
                decay["matrix"] = compose(step_matrix(decay["kind"], self.groups[conv]),
                                          decay["matrix"])

    def after_step(self) -> None:
        with torch.no_grad():
            for conv, taps in self.trimmed.items():
                conv.weight[conv.trained_taps_slices] = taps
                conv.__dict__["kernel_version"] = conv.weight._version

    def trim(self, conv: SinglePixelConv2d) -> None:
        window = conv.__dict__.get("training_window")
        weight = conv.weight
        group = group_of(self.optimizer, weight)
        kind = decay_kind(self.optimizer, group) if group is not None else None
        # a frozen kernel stays frozen; hooks on a kernel would no longer see its gradient
        if window is None or kind is None \
                or not weight.requires_grad or getattr(weight, "_backward_hooks", None) \
                or getattr(weight, "_post_accumulate_grad_hooks", None):
            return
        rows, cols = conv.in_image_taps(window)
        if (rows.stop - rows.start) * (cols.stop - cols.start) == weight[0, 0].numel():
            return  # every tap sees the image
        state = self.optimizer.state.get(weight, {})
        full = {k for k, v in state.items() if torch.is_tensor(v) and v.shape == weight.shape}
        for key in full if kind != "sgd" else ():  # (SGD's momentum is carried: `step_matrix`)
            outside = state[key].detach().clone()  # state left by another input size: those
            outside[:, :, rows, cols] = 0          # taps would still move
            if outside.any():
                return
        taps = nn.Parameter(weight.detach()[:, :, rows, cols].clone(
            memory_format=torch.contiguous_format))
        if weight.grad is not None:  # this step's: zero outside the taps
            taps.grad = weight.grad[:, :, rows, cols].clone(memory_format=torch.contiguous_format)
        # Recorded before the optimizer changes, so that `untrim` can always undo what was done.
        self.trimmed[conv] = taps
        self.groups[conv], self.settings[conv] = group, settings(self.optimizer, group)
        self.layouts[conv] = (torch.channels_last if is_channels_last(weight)
                              else torch.contiguous_format)
        conv.__dict__["trained_taps_slices"] = (slice(None), slice(None), rows, cols)
        swap(group, weight, taps)
        if state:
            self.optimizer.state[taps] = {
                k: v[:, :, rows, cols].clone(memory_format=torch.contiguous_format)
                if k in full else v for k, v in self.optimizer.state.pop(weight).items()}
        weight.grad = None
        # Channels-last keeps each tap's weights together, so writing the taps back after every
        # step touches a ninth of a 3x3 kernel's memory, not all of it (a planar kernel holds
        # one tap in every ninth number). Nothing computes with the full kernel meanwhile, and
        # its state dict entry keeps the kernel's own layout (`keep_layout`).
        weight.data = weight.data.contiguous(memory_format=torch.channels_last)
        self.hooks.append(conv._register_state_dict_hook(during_training(
            keep_layout(self.layouts[conv]))))
        conv.__dict__["kernel_version"] = weight._version
        conv.__dict__["catch_write"] = functools.partial(self.catch_write, conv)
        conv.__dict__["trained_taps"] = (window, taps)  # not registered: not in the state dict
        self.skipped += weight.numel() - taps.numel()
        if kind != "none":
            momentum = state.get("momentum_buffer") if "momentum_buffer" in full else None
            if momentum is None and kind == "sgd" and group.get("momentum", 0) != 0:
                momentum = torch.zeros_like(weight)  # before the first step: none yet
            self.decays[conv] = {"kind": kind, "matrix": IDENTITY, "shown": IDENTITY,
                                 "weight": weight.detach().clone(),
                                 "momentum": None if momentum is None else momentum.detach().clone()}
            saved = self.restored.get(self.names[conv])
            if saved is not None and continues(saved, kind, weight, momentum, rows, cols):
                # the run this one continues: the same starting point and product, so every
                # later reading rounds as in a run that was never stopped
                matrix = tuple(saved["matrix"])  # (which the loaded kernel shows: `continues`)
                self.decays[conv].update(matrix=matrix, shown=matrix, weight=saved["weight"],
                                         momentum=saved["momentum"])
            # whoever reads the kernel gets it up to date: a state dict, a forward at another
            # input size (engine/single_pixel.py), a copy; a write to it is caught there too
            self.hooks.append(conv.register_state_dict_pre_hook(during_training(
                lambda module, prefix, keep_vars: self.bring_up_to_date(module))))
            conv.__dict__["bring_taps_up_to_date"] = functools.partial(self.bring_up_to_date, conv)

    def bring_up_to_date(self, conv: SinglePixelConv2d) -> None:
        """The kernel's padding-only taps (and their momentum) as stepping whole kernels would
        have them now, with the product of the steps since the last time."""
        self.catch_write(conv)
        decay = self.decays.get(conv)
        if decay is None or decay["matrix"] == decay["shown"]:
            return  # (the kernel already holds them)
        with torch.no_grad():
            conv.weight.copy_(decayed(decay)[0])
            conv.weight[conv.trained_taps_slices] = self.trimmed[conv]
        decay["shown"] = decay["matrix"]
        conv.__dict__["kernel_version"] = conv.weight._version

    def catch_write(self, conv: SinglePixelConv2d) -> None:
        """If someone wrote the kernel since the last step (loaded weights): its taps take the
        written values, and with weight decay the decay so far applies to what the kernel held
        before (the momentum keeps it), what it holds now decays from here on."""
        if conv.weight._version == conv.__dict__["kernel_version"]:
            return
        with torch.no_grad():
            self.trimmed[conv].copy_(conv.weight[conv.trained_taps_slices])
        decay = self.decays.get(conv)
        if decay is not None:
            decay["momentum"] = decayed(decay)[1]
            decay.update(weight=conv.weight.detach().clone(), matrix=IDENTITY, shown=IDENTITY)
        conv.__dict__["kernel_version"] = conv.weight._version

    def resume_state(self) -> dict:
        """Per trimmed kernel with weight decay (by module name): where its padding-only taps'
        decay starts and the product of the steps since. Readings apply the product to the start
        without changing either, so they round alike however often a run was read or stopped;
        a resumed run starts from these (`restored`)."""
        return {self.names[conv]: {"kind": d["kind"], "matrix": list(d["matrix"]),
                                   "weight": d["weight"].clone(),
                                   "momentum": None if d["momentum"] is None else d["momentum"].clone()}
                for conv, d in self.decays.items()}

    def untrim(self) -> None:
        """The full kernels back in the optimizer, with their state and any pending gradient."""
        for conv, taps in self.trimmed.items():
            weight, where = conv.weight, conv.trained_taps_slices
            self.catch_write(conv)
            for key in ("trained_taps", "bring_taps_up_to_date", "catch_write", "kernel_version"):
                conv.__dict__.pop(key, None)
            layout = self.layouts.pop(conv)
            with torch.no_grad():
                weight.data = weight.data.contiguous(memory_format=layout)
                decay = self.decays.pop(conv, None)
                if decay is not None and decay["matrix"] != decay["shown"]:
                    weight.copy_(decayed(decay)[0])
                weight[where] = taps
            if weight.grad is not None:  # (PyTorch's fused SGD misreads a gradient laid out
                weight.grad = weight.grad.contiguous(memory_format=layout)  # unlike its weight)
            if taps.grad is not None:
                if weight.grad is None:
                    weight.grad = torch.zeros_like(weight)
                weight.grad[where] += taps.grad
            group = group_of(self.optimizer, taps)
            if group is not None:
                swap(group, taps, weight)
            state = self.optimizer.state.pop(taps, {})
            if state:
                self.optimizer.state[weight] = {
                    k: expand(v, weight, where, taps, layout, outside_part(decay, k))
                    for k, v in state.items()}
            del conv.__dict__["trained_taps_slices"]
        for hook in self.hooks:
            hook.remove()
        self.trimmed, self.hooks, self.groups, self.settings = {}, [], {}, {}

    def optimizer_state_dict(self, optimizer) -> dict:
        """`optimizer.state_dict()` as the untrimmed optimizer would give it."""
        for conv in self.decays:
            self.bring_up_to_date(conv)
        saved = optimizer.state_dict()
        if not self.trimmed:
            return saved
        index = {id(p): i for i, p in enumerate(p for g in optimizer.param_groups
                                                 for p in g["params"])}
        for conv, taps in self.trimmed.items():
            i = index.get(id(taps))
            if i in saved["state"]:  # a new dict: the saved one is the optimizer's own
                saved["state"][i] = {
                    k: expand(v, conv.weight, conv.trained_taps_slices, taps, self.layouts[conv],
                              outside_part(self.decays.get(conv), k))
                    for k, v in saved["state"][i].items()}
        return saved


def group_of(optimizer, parameter) -> dict | None:
    return next((g for g in optimizer.param_groups if any(p is parameter for p in g["params"])),
                None)


def swap(group: dict, old: torch.Tensor, new: torch.Tensor) -> None:
    group["params"] = [new if p is old else p for p in group["params"]]


def decayed(decay: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(weight, momentum) now: the kernel and momentum kept aside, taken through the product
    of the steps since (new tensors; the start and the product stay as they are)."""
    a, b, c, d = decay["matrix"]
    weight, momentum = decay["weight"], decay["momentum"]
    if (a, b, c, d) == IDENTITY:  # (as they are: w + 0 * m would turn -0.0 into 0.0)
        return weight, momentum
    with torch.no_grad():
        if momentum is None:  # (b = c = 0)
            return weight * a, None
        return torch.add(weight * a, momentum, alpha=b), torch.add(momentum * d, weight, alpha=c)


def continues(saved: dict, kind: str, weight: torch.Tensor, momentum: torch.Tensor | None,
              rows: slice, cols: slice) -> bool:
    """Whether `saved` (a resume checkpoint's `resume_state` entry) is where this kernel's
    padding-only taps came from: the same decay, and its start taken through its product gives
    exactly what the kernel (and momentum) hold outside `rows` x `cols`. Anything else (another
    input size, weights loaded since) starts afresh from the kernel as it is."""
    if saved["kind"] != kind or saved["weight"].shape != weight.shape \
            or (saved["momentum"] is None) != (momentum is None):
        return False
    outside = torch.ones(weight.shape[2:], dtype=torch.bool)
    outside[rows, cols] = False
    now_weight, now_momentum = decayed(saved)
    return torch.equal(now_weight[:, :, outside], weight.detach()[:, :, outside]) and (
        momentum is None or torch.equal(now_momentum[:, :, outside], momentum[:, :, outside]))


def outside_part(decay: dict | None, key: str) -> torch.Tensor | None:
    """What optimizer state `key` holds at the padding-only taps: SGD's momentum (up to date),
    otherwise zeros (None)."""
    return decayed(decay)[1] if decay is not None and key == "momentum_buffer" else None


def expand(value, weight: torch.Tensor, where, taps: torch.Tensor, layout: torch.memory_format,
           outside: torch.Tensor | None = None):
    """A taps-shaped state tensor as the full kernel's (`outside`, or zeros, at the padding-only
    taps), in the kernel's own layout (PyTorch's fused optimizers misread state laid out unlike
    its weight)."""
    if not (torch.is_tensor(value) and value.shape == taps.shape):
        return value
    full = torch.zeros_like(weight, dtype=value.dtype, memory_format=layout)
    if outside is not None:
        full.copy_(outside)
    full[where] = value
    return full


def during_training(hook):
    """Marks a hook as this module's: copies and pickles of the model leave it out
    (`SinglePixelConv2d.__getstate__`), as they leave out the rest of a `train()`'s trimming."""
    hook.taps_trimming = True
    return hook


def keep_layout(layout: torch.memory_format):
    """A state dict hook: the trimmed kernel's entry in its own layout (torch.save keeps it)."""
    def hook(module, state_dict, prefix, local_metadata):
        key = prefix + "weight"
        if key in state_dict and not state_dict[key].is_contiguous(memory_format=layout):
            state_dict[key] = state_dict[key].contiguous(memory_format=layout)
    return hook
