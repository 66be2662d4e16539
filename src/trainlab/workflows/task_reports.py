"""What a run reports beyond the loss, by task: accuracy and confusion for classes, MSE, MAE and
R^2 for regression; and the picture that shows a sequence model's work (prediction against
target)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..analysis.plots import plot_sequence_predictions
from ..engine import confusion_matrix, per_class_accuracy
from ..engine.tasks import class_probabilities, flatten_steps, regression_scores

PREDICTIONS = "predictions.png"  # a sequence regression's test predictions against its targets


def predict_loader(runner, loader) -> tuple[torch.Tensor, torch.Tensor]:
    """All outputs and labels of a loader, on the CPU. Token batches are cut to their own
    longest sequence, so per-step outputs are padded back to one length before joining."""
    outputs, labels = [], []
    for x, y in loader:
        outputs.append(runner.predict(x).cpu())
        labels.append(y.cpu())
    if outputs and outputs[0].dim() > 2 and len({o.shape[1] for o in outputs}) > 1:
        raise ValueError("per-step outputs of different lengths")
    return torch.cat(outputs), torch.cat(labels)


def in_target_units(outputs, targets, preprocessing: dict):
    """Standardised regression outputs and targets back in the target's own units."""
    if "target_std" not in preprocessing:
        return outputs, targets
    std, mean = (torch.tensor(preprocessing[k]) for k in ("target_std", "target_mean"))
    return outputs * std + mean, targets * std + mean


def majority_accuracy(data) -> float | None:
    """The test accuracy of always answering the training split's most common class: the
    figure a classifier has to beat (per-step labels count every step)."""
    train, test = data.train.labels.flatten(), data.test.labels.flatten()
    if not len(train) or not len(test):
        return None
    majority = torch.bincount(train).argmax()
    return (test == majority).float().mean().item()


def task_results(runner, loader, data) -> dict:
    """results.json's task figures on `loader` (the test split): MSE/MAE/R^2 for regression, in
    the target's units; for classes, the majority-class baseline (the accuracy itself is the
    Runner's score)."""
    if data.task != "regression":
        return {"test_majority_class_accuracy": majority_accuracy(data)}
    outputs, targets = predict_loader(runner, loader)
    scores = regression_scores(*in_target_units(outputs, targets, data.preprocessing()))
    return {f"test_{key}": value for key, value in scores.items()}


def task_report(task: str, outputs: torch.Tensor, labels: torch.Tensor,
                class_names: list[str]) -> dict:
    """`evaluate`'s figures for one split: regression scores, or accuracy, per-class accuracy
    and the confusion matrix (per-step outputs count every step)."""
    if task == "regression":
        return regression_scores(outputs, labels)
    outputs, labels = flatten_steps(outputs, labels)
    predicted = class_probabilities(task, outputs).argmax(dim=1)
    matrix = confusion_matrix(predicted, labels, len(class_names))
    return {"accuracy": (predicted == labels).float().mean().item(),
            "per_class_accuracy": dict(zip(class_names, per_class_accuracy(matrix))),
            "confusion_matrix": matrix.tolist(), "class_names": class_names}


def write_task_pictures(runner, loader, data, run_dir: Path) -> None:
    """predictions.png for a sequence regression (seed 000's sin -> cos plot)."""
    if data.task == "regression" and data.input_kind == "series":
        outputs, targets = predict_loader(runner, loader)
        plot_sequence_predictions(data.test.inputs, outputs, targets, run_dir / PREDICTIONS,
                                  title=f"{run_dir.name}: test predictions against targets")
