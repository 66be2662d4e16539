"""Optimizer and learning-rate schedule factories, so the loop never builds either."""
from __future__ import annotations

import math

import torch

OPTIMIZERS = ("sgd", "adam", "adamw", "adamax", "rprop")
SCHEDULES = ("none", "cosine", "onecycle", "step")


def create_optimizer(name: str, params, lr: float, momentum: float = 0.9,
                     weight_decay: float = 0.0, fused: bool = False) -> torch.optim.Optimizer:
    """SGD (with momentum), Adam, AdamW, Adamax or Rprop (seed 004 compares the last three).

    fused=True runs SGD, Adam and AdamW as one fused kernel over all parameters (the others have
    none): the same update, up to float rounding. On a 2-core CPU ResNet-18 trained with Adam
    at 955 images/s against 639 (`benchmarks/bench_cpu_levers.py --optimizer adam`); SGD gains
    little. The training workflow asks for it on CPUs; the default stays PyTorch's, as the
    courses' code had it."""
    fused_kwargs = {"fused": True} if fused else {}
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=False, **fused_kwargs)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **fused_kwargs)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **fused_kwargs)
    if name == "adamax":
        return torch.optim.Adamax(params, lr=lr, weight_decay=weight_decay)
    if name == "rprop":
        return torch.optim.Rprop(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def create_scheduler(name: str, optimizer: torch.optim.Optimizer, total_steps: int):
    """A per-step LR schedule over `total_steps` (None for 'none').

    cosine: decay to 0; onecycle: 20% linear warm-up to the set LR then cosine to 0 (a good
    default for short runs); step: x0.1 at 50% and 75% of training.
    """
    if name == "none":
        return None
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule_factor(name, total_steps))


def create_fine_tune_scheduler(name: str, optimizer: torch.optim.Optimizer, head_steps: int,
                               total_steps: int, lr_factor: float):
    """Two stages for an optimizer whose groups are [head, backbone]: the schedule `name` runs
    over the first `head_steps` steps for the head alone (the backbone's lr is 0, so its
    weights do not move), then again over the rest for everything at `lr_factor` times the lr."""
    first = schedule_factor(name, head_steps)
    second = schedule_factor(name, total_steps - head_steps)

    def head(step):
        return first(step) if step < head_steps else lr_factor * second(step - head_steps)

    def backbone(step):
        return 0.0 if step < head_steps else lr_factor * second(step - head_steps)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, [head, backbone])


def schedule_factor(name: str, total_steps: int):
    """The schedule as a function of the step: the factor the set LR is multiplied by."""
    total_steps = max(1, total_steps)
    if name == "none":
        factor = lambda step: 1.0
    elif name == "cosine":
        factor = lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    elif name == "onecycle":
        warmup = max(1, int(0.2 * total_steps))

        def factor(step):
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total_steps - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    elif name == "step":
        factor = lambda step: 0.1 ** ((step >= 0.5 * total_steps) + (step >= 0.75 * total_steps))
    else:
        raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
    return factor
