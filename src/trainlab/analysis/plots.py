"""Figures: seed 001's two-panel `plot(runner, fig_name)`, run curves and confusion matrices.

matplotlib runs with the non-interactive Agg backend so figures render on machines with no screen.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..engine.checkpoint import writing


def plot(runner, fig_name, sample_every: int = 30):
    """Seed 001's figure: train (every `sample_every` steps) and dev loss; dev accuracy."""
    fig = plt.figure(figsize=(10, 5))
    plt.subplot(1, 2, 1)
    train_items = runner.train_step_losses[::sample_every]
    plt.plot([s for s, _ in train_items], [v for _, v in train_items], color="#8E004D",
             label="Train loss")
    has_dev_steps = bool(runner.dev_losses) and runner.dev_losses[0][0] != -1
    if has_dev_steps:
        dev_steps = [s for s, _ in runner.dev_losses]
        plt.plot(dev_steps, [v for _, v in runner.dev_losses], color="#E20079", linestyle="--",
                 label="Dev loss")
    plt.ylabel("loss", fontsize="x-large")
    plt.xlabel("step", fontsize="x-large")
    plt.legend(loc="upper right", fontsize="x-large")
    plt.subplot(1, 2, 2)
    steps = dev_steps if has_dev_steps else list(range(len(runner.dev_scores)))
    plt.plot(steps, runner.dev_scores[:len(steps)], color="#E20079", linestyle="--",
             label="Dev accuracy")
    plt.ylabel("score", fontsize="x-large")
    plt.xlabel("step", fontsize="x-large")
    plt.legend(loc="lower right", fontsize="x-large")
    plt.savefig(fig_name)
    plt.close(fig)


def plot_curves(rows: list[dict], path: str | Path, title: str = "") -> None:
    """Loss and accuracy per epoch for train and dev, from metrics.csv-style rows."""
    fig, (loss_axis, acc_axis) = plt.subplots(1, 2, figsize=(11, 4.5))
    for split, style in (("train", "-"), ("dev", "--")):
        points = [r for r in rows if r["split"] == split]
        if not points:
            continue
        x = [float(r["step"]) + 1 for r in points]
        loss_axis.plot(x, [float(r["loss"]) for r in points], style, marker="o", label=split)
        acc = [(xi, float(r["accuracy"])) for xi, r in zip(x, points) if r.get("accuracy") not in
               (None, "")]
        if acc:
            acc_axis.plot(*zip(*acc), style, marker="o", label=split)
    for axis, name in ((loss_axis, "loss"), (acc_axis, "accuracy")):
        axis.set_xlabel("training step")
        axis.set_ylabel(name)
        if name == "loss":  # early spikes would flatten the rest of a linear plot
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
        axis.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with writing(path):
        fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion_matrix(matrix, class_names: list[str], path: str | Path, title="") -> None:
    """Counts with the true class on rows; each cell annotated."""
    n = len(class_names)
    size = max(5.0, 0.55 * n + 2)
    fig, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(n), class_names, rotation=45, ha="right")
    axis.set_yticks(range(n), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    peak = max(1, int(matrix.max()))
    if n <= 30:
        for i in range(n):
            for j in range(n):
                value = int(matrix[i][j])
                axis.text(j, i, str(value), ha="center", va="center", fontsize=8,
                          color="white" if value > peak / 2 else "black")
    fig.colorbar(image, ax=axis, fraction=0.046)
    axis.set_title(title)
    fig.tight_layout()
    with writing(path):
        fig.savefig(path, dpi=110)
    plt.close(fig)
