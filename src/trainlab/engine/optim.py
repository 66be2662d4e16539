"""Optimizer and learning-rate schedule factories, so the loop never builds either."""
from __future__ import annotations

import math

import torch

OPTIMIZERS = ("sgd", "adam", "adamw", "adamax", "rprop")
SCHEDULES = ("none", "cosine", "onecycle", "step")


def create_optimizer(name: str, params, lr: float, momentum: float = 0.9,
                     weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """SGD (with momentum), Adam, AdamW, Adamax or Rprop (seed 004 compares the last three)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=False)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
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
    total_steps = max(1, total_steps)
    if name == "cosine":
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
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
