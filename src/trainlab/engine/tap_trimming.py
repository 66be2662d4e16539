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
forward. `optimizer_state_dict` gives the state as a plain run has it (full size, zeros at the
padding-only taps, the kernel's layout), so resume checkpoints do not depend on it. It puts the
full kernels back when a step gave one of them a gradient (another input size) and when `train`
ends. Where it applies: `trims_taps`.
"""
from __future__ import annotations

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
    SGD/Adam/AdamW and no weight decay in any parameter group."""
    return (device.type == "cpu" and distributed.world_size() == 1 and compile == "none"
            and not clip_grad_norm and type(optimizer) in TRIMMABLE
            and all(group.get("weight_decay", 0) == 0 for group in optimizer.param_groups))


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


class TapTrimmer(NoTrimming):
    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.convs = [m for m in model.modules() if isinstance(m, SinglePixelConv2d)]
        self.trimmed: dict[SinglePixelConv2d, nn.Parameter] = {}  # conv -> its taps parameter
        self.layouts: dict[SinglePixelConv2d, torch.memory_format] = {}  # their kernels' own
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
        elif any(conv.weight.grad is not None for conv in self.trimmed):
            self.untrim()

    def after_step(self) -> None:
        with torch.no_grad():
            for conv, taps in self.trimmed.items():
                conv.weight[conv.trained_taps_slices] = taps
                conv.__dict__["kernel_version"] = conv.weight._version

    def trim(self, conv: SinglePixelConv2d) -> None:
        window = conv.__dict__.get("training_window")
        weight = conv.weight
        group = group_of(self.optimizer, weight)
        # a frozen kernel stays frozen; hooks on a kernel would no longer see its gradient
        if window is None or group is None or group.get("weight_decay", 0) != 0 \
                or not weight.requires_grad or getattr(weight, "_backward_hooks", None) \
                or getattr(weight, "_post_accumulate_grad_hooks", None):
            return
        rows, cols = conv.in_image_taps(window)
        if (rows.stop - rows.start) * (cols.stop - cols.start) == weight[0, 0].numel():
            return  # every tap sees the image
        state = self.optimizer.state.get(weight, {})
        full = {k for k, v in state.items() if torch.is_tensor(v) and v.shape == weight.shape}
        for key in full:  # state left by another input size: those taps would still move
            outside = state[key].detach().clone()
            outside[:, :, rows, cols] = 0
            if outside.any():
                return
        taps = nn.Parameter(weight.detach()[:, :, rows, cols].clone(
            memory_format=torch.contiguous_format))
        if weight.grad is not None:  # this step's: zero outside the taps
            taps.grad = weight.grad[:, :, rows, cols].clone(memory_format=torch.contiguous_format)
        # Recorded before the optimizer changes, so that `untrim` can always undo what was done.
        self.trimmed[conv] = taps
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
        self.hooks.append(conv._register_state_dict_hook(keep_layout(self.layouts[conv])))
        conv.__dict__["kernel_version"] = weight._version
        conv.__dict__["trained_taps"] = (window, taps)  # not registered: not in the state dict
        self.skipped += weight.numel() - taps.numel()

    def untrim(self) -> None:
        """The full kernels back in the optimizer, with their state and any pending gradient."""
        for conv, taps in self.trimmed.items():
            weight, where = conv.weight, conv.trained_taps_slices
            conv.__dict__.pop("trained_taps", None)
            layout = self.layouts.pop(conv)
            with torch.no_grad():
                if weight._version != conv.__dict__.pop("kernel_version", weight._version):
                    taps.copy_(weight[where])  # the kernel was written since the last step
                weight.data = weight.data.contiguous(memory_format=layout)
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
                self.optimizer.state[weight] = {k: expand(v, weight, where, taps, layout)
                                                for k, v in state.items()}
            del conv.__dict__["trained_taps_slices"]
        for hook in self.hooks:
            hook.remove()
        self.trimmed, self.hooks = {}, []

    def optimizer_state_dict(self, optimizer) -> dict:
        """`optimizer.state_dict()` as the untrimmed optimizer would give it."""
        saved = optimizer.state_dict()
        if not self.trimmed:
            return saved
        index = {id(p): i for i, p in enumerate(p for g in optimizer.param_groups
                                                 for p in g["params"])}
        for conv, taps in self.trimmed.items():
            i = index.get(id(taps))
            if i in saved["state"]:  # a new dict: the saved one is the optimizer's own
                saved["state"][i] = {k: expand(v, conv.weight, conv.trained_taps_slices, taps,
                                            self.layouts[conv]) for k, v in saved["state"][i].items()}
        return saved


def group_of(optimizer, parameter) -> dict | None:
    return next((g for g in optimizer.param_groups if any(p is parameter for p in g["params"])),
                None)


def swap(group: dict, old: torch.Tensor, new: torch.Tensor) -> None:
    group["params"] = [new if p is old else p for p in group["params"]]


def expand(value, weight: torch.Tensor, where, taps: torch.Tensor, layout: torch.memory_format):
    """A taps-shaped state tensor as the full kernel's (zeros at the padding-only taps), in the
    kernel's own layout (PyTorch's fused optimizers misread state laid out unlike its weight)."""
    if not (torch.is_tensor(value) and value.shape == taps.shape):
        return value
    full = torch.zeros_like(weight, dtype=value.dtype, memory_format=layout)
    full[where] = value
    return full


def keep_layout(layout: torch.memory_format):
    """A state dict hook: the trimmed kernel's entry in its own layout (torch.save keeps it)."""
    def hook(module, state_dict, prefix, local_metadata):
        key = prefix + "weight"
        if key in state_dict and not state_dict[key].is_contiguous(memory_format=layout):
            state_dict[key] = state_dict[key].contiguous(memory_format=layout)
    return hook
