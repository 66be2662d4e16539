"""Metrics as small functions, plus seed 001's stateful `Accuracy` for the Runner API."""
from __future__ import annotations

import torch


def predicted_classes(outputs: torch.Tensor, is_logits: bool = True) -> torch.Tensor:
    """Class indices from model outputs; one output column means a binary task."""
    if outputs.dim() == 2 and outputs.shape[1] == 1:
        threshold = 0.0 if is_logits else 0.5
        return (outputs.squeeze(1) >= threshold).long()
    return outputs.argmax(dim=1)


def count_correct(outputs: torch.Tensor, labels: torch.Tensor, is_logits: bool = True):
    """Number of correct predictions, as a 0-d tensor (no host sync)."""
    labels = labels.squeeze(-1) if labels.dim() > 1 else labels
    return (predicted_classes(outputs, is_logits) == labels).sum()


def accuracy(outputs: torch.Tensor, labels: torch.Tensor, topk=(1,)) -> list[float]:
    """Top-k accuracies (fractions), as in torchvision's reference scripts."""
    maxk = min(max(topk), outputs.shape[1])
    top = outputs.topk(maxk, dim=1).indices  # (B, maxk)
    hits = top.eq(labels.view(-1, 1))
    return [hits[:, :min(k, maxk)].any(dim=1).float().mean().item() for k in topk]


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int):
    """(num_classes, num_classes) counts; rows are true classes, columns predicted ones."""
    index = labels.long() * num_classes + predicted.long()
    return torch.bincount(index, minlength=num_classes ** 2).view(num_classes, num_classes)


def per_class_accuracy(matrix: torch.Tensor) -> list[float | None]:
    """Recall of each class from a confusion matrix; None for a class with no examples."""
    totals = matrix.sum(dim=1)
    return [(matrix[i, i] / totals[i]).item() if totals[i] > 0 else None
            for i in range(len(matrix))]


class Accuracy:
    """Seed 001's metric: `update(outputs, labels)`, `accumulate()`, `reset()`, `name()`."""

    def __init__(self, is_logist: bool = True):
        self.is_logist = is_logist
        self.num_correct = 0
        self.num_count = 0

    def update(self, outputs: torch.Tensor, labels: torch.Tensor) -> None:
        self.num_correct += int(count_correct(outputs, labels, self.is_logist))
        self.num_count += len(labels)

    def accumulate(self) -> float:
        return self.num_correct / self.num_count if self.num_count else 0

    def reset(self) -> None:
        self.num_correct = 0
        self.num_count = 0

    def name(self) -> str:
        return "Accuracy"
