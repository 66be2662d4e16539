"""Task kinds: what a model's outputs mean, and so its loss, predictions and scores.

    classification  outputs (B, C) logits, labels (B,) class indices; cross-entropy, accuracy
                    (also per step: outputs (B, T, C), labels (B, T), as seed 003's "hello")
    binary          outputs (B, 1): one logit, sigmoid + BCE (seed 004's 8-6-4-2-1 network);
                    labels (B,) 0/1; accuracy at probability 0.5
    regression      outputs and targets of the same shape (B, K) or (B, T, K); MSE loss; dev
                    score R^2 (higher is better); results report MSE, MAE and R^2

A data set says its task; the Runner only ever sees `loss_function(task)` and
`create_metric(task)`, so the image path (classification) is what it always was.
"""
from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F

from .metrics import Accuracy

TASKS = ("classification", "binary", "regression")


def flatten_steps(outputs: torch.Tensor, labels: torch.Tensor):
    """Per-step outputs (B, T, C) and labels (B, T) as (B*T, C) and (B*T,): every step counts."""
    if outputs.dim() > 2:
        return outputs.flatten(0, -2), labels.flatten()
    return outputs, labels


def classification_loss(outputs, labels, label_smoothing: float = 0.0):
    outputs, labels = flatten_steps(outputs, labels)
    return F.cross_entropy(outputs, labels, label_smoothing=label_smoothing)


def binary_loss(outputs, labels):
    """Seed 004's sigmoid + BCELoss, computed from the logit (the numerically safe form)."""
    return F.binary_cross_entropy_with_logits(outputs.squeeze(-1), labels.to(outputs.dtype))


def regression_loss(outputs, targets):
    return F.mse_loss(outputs, targets.to(outputs.dtype))


def loss_function(task: str, label_smoothing: float = 0.0):
    """The training loss for `task` (label smoothing applies to classification only)."""
    if task == "classification":
        if not label_smoothing:
            return classification_loss
        return partial(classification_loss, label_smoothing=label_smoothing)
    if task == "binary":
        return binary_loss
    if task == "regression":
        return regression_loss
    raise ValueError(f"unknown task {task!r}; one of {', '.join(TASKS)}")


class StepAccuracy(Accuracy):
    """Accuracy over every step of per-step outputs (and plain (B, C) outputs as before)."""

    def update(self, outputs, labels) -> None:
        super().update(*flatten_steps(outputs, labels))


class RSquared:
    """Coefficient of determination, 1 - SSE/SST, over everything seen since `reset()`; the
    regression dev score (higher is better, 1 is perfect, below 0 is worse than the mean)."""

    column = "r2"
    lowest = -math.inf  # the Runner's best score starts here, not at accuracy's 0

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._outputs, self._targets = [], []

    def update(self, outputs, targets) -> None:
        self._outputs.append(outputs.detach().float().cpu())
        self._targets.append(targets.detach().float().cpu().reshape(outputs.shape))

    def accumulate(self) -> float:
        if not self._outputs:
            return 0.0
        return regression_scores(torch.cat(self._outputs), torch.cat(self._targets))["r2"]

    def name(self) -> str:
        return "R2"


def create_metric(task: str):
    return RSquared() if task == "regression" else StepAccuracy()


def regression_scores(outputs: torch.Tensor, targets: torch.Tensor) -> dict:
    """MSE, MAE and R^2 over all elements."""
    outputs, targets = outputs.double(), targets.double().reshape(outputs.shape)
    error = outputs - targets
    total = ((targets - targets.mean()) ** 2).sum()
    r2 = 1 - (error ** 2).sum() / total if total > 0 else torch.tensor(0.0)
    return {"mse": (error ** 2).mean().item(), "mae": error.abs().mean().item(),
            "r2": r2.item()}


def class_probabilities(task: str, outputs: torch.Tensor) -> torch.Tensor:
    """(N, C) probabilities of each class: softmax, or for a binary task (1 - p, p)."""
    if task == "binary":
        p = outputs.float().squeeze(-1).sigmoid()
        return torch.stack([1 - p, p], dim=-1)
    return outputs.float().softmax(dim=-1)
