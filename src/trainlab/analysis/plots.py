"""Figures: seed 001's two-panel `plot(runner, fig_name)`, run curves and confusion matrices.

matplotlib runs with the non-interactive Agg backend so figures render on machines with no screen.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

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


def plain_numbers(axis, which: str = "both") -> None:
    """Tick labels as plain numbers (0.2, 1500), never 2x10^-1, 1.5e3 or an offset."""
    formatter = ticker.FuncFormatter(lambda value, _: f"{value:g}")
    for name in ("x", "y") if which == "both" else (which,):
        part = axis.xaxis if name == "x" else axis.yaxis
        part.set_major_formatter(formatter)
        part.set_minor_formatter(ticker.NullFormatter())


def epoch_ends(rows: list[dict]) -> list[tuple[int, float]]:
    """(epoch number from 1, the step axis position of its end) for each finished epoch."""
    return [(int(r["epoch"]) + 1, float(r["step"]) + 1) for r in rows if r["split"] == "train"]


def best_checkpoint(rows: list[dict]) -> dict | None:
    """The dev row the best checkpoint was saved at: the first with the highest accuracy (the
    Runner saves only on a strict improvement)."""
    column = score_column(rows)
    dev = [r for r in rows if r["split"] == "dev" and r.get(column) not in (None, "")]
    return max(dev, key=lambda r: float(r[column])) if dev else None


def score_column(rows: list[dict]) -> str:
    """The score metrics.csv holds: accuracy, or r2 for a regression run."""
    return "r2" if rows and "r2" in rows[0] else "accuracy"


def draw_curves(rows: list[dict], title: str = ""):
    """Loss and accuracy against training steps, from metrics.csv-style rows: logged train steps
    as a thin line, each epoch's mean and each evaluation as points, epoch ends marked along the
    top, and the step the best checkpoint was saved at. Returns the matplotlib figure."""
    fig, (loss_axis, acc_axis) = plt.subplots(1, 2, figsize=(11, 4.5))
    column = score_column(rows)
    steps = [r for r in rows if r["split"] == "train_step"]
    if steps:
        loss_axis.plot([float(r["step"]) + 1 for r in steps], [float(r["loss"]) for r in steps],
                       "-", color="tab:blue", alpha=0.35, linewidth=1, label="train (logged steps)")
    for split, style, color, name in (("train", "-o", "tab:blue", "train (epoch mean)"),
                                      ("dev", "--s", "tab:orange", "dev")):
        points = [r for r in rows if r["split"] == split]
        if not points:
            continue
        x = [float(r["step"]) + 1 for r in points]
        loss_axis.plot(x, [float(r["loss"]) for r in points], style, color=color, label=name)
        acc = [(xi, float(r[column])) for xi, r in zip(x, points)
               if r.get(column) not in (None, "")]
        if acc:
            acc_axis.plot(*zip(*acc), style, color=color, label=name)
    best = best_checkpoint(rows)
    if best is not None:
        x, accuracy = float(best["step"]) + 1, float(best[column])
        label = f"best checkpoint: step {x:g}, dev {column} {accuracy:.4f}"
        for axis in (loss_axis, acc_axis):
            axis.axvline(x, color="tab:green", linestyle=":", linewidth=1.5)
        acc_axis.plot([x], [accuracy], "*", color="tab:green", markersize=16, label=label)
    losses = [float(r["loss"]) for r in rows if r["split"] in ("train", "dev", "train_step")]
    # Early spikes would flatten the rest of a linear plot; a loss of exactly 0 (it happens in
    # bf16) cannot be shown on a log one.
    if losses and min(losses) > 0 and max(losses) / min(losses) > 20:
        loss_axis.set_yscale("log")
        loss_axis.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ends = epoch_ends(rows)
    for axis, name in ((loss_axis, "loss"), (acc_axis, column)):
        axis.set_xlabel("training step")
        axis.set_ylabel(name)
        plain_numbers(axis)
        axis.grid(alpha=0.3)
        if ends:
            for _, x in ends:
                axis.axvline(x, color="grey", linewidth=0.8, alpha=0.5)
            top = axis.secondary_xaxis("top")
            shown = ends[::max(1, len(ends) // 12)]  # at most ~12 labels
            top.set_xticks([x for _, x in shown], [str(e) for e, _ in shown])
            top.set_xlabel("end of epoch")
        if len({float(r["step"]) for r in rows}) == 1:  # one point: give it room to be seen
            axis.set_xlim(0, float(rows[0]["step"]) * 2 + 2)
        axis.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(rows: list[dict], path: str | Path, title: str = "") -> None:
    """`draw_curves` saved as a PNG (curves.png in a run directory)."""
    fig = draw_curves(rows, title)
    with writing(path):
        fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_confusion_matrix(matrix, class_names: list[str], title="", normalise: bool = False):
    """Counts (or, normalised, each true class's row as shares summing to 1) with the true class
    on rows; each cell annotated. Returns the matplotlib figure."""
    matrix = np.asarray(matrix, dtype=float)
    if normalise:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    n = len(class_names)
    size = max(5.0, 0.55 * n + 2)
    fig, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    axis.set_xticks(range(n), class_names, rotation=45, ha="right")
    axis.set_yticks(range(n), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    peak = 1.0 if normalise else max(1.0, float(matrix.max()))
    if n <= 30:
        for i in range(n):
            for j in range(n):
                value = matrix[i][j]
                axis.text(j, i, f"{value:.2f}" if normalise else str(int(value)), ha="center",
                          va="center", fontsize=8,
                          color="white" if value > peak / 2 else "black")
    colorbar = fig.colorbar(image, ax=axis, fraction=0.046)
    if normalise:
        colorbar.set_label("share of the true class")
    axis.set_title(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix, class_names: list[str], path: str | Path, title="",
                          normalise: bool = False) -> None:
    """`draw_confusion_matrix` saved as a PNG."""
    fig = draw_confusion_matrix(matrix, class_names, title, normalise)
    with writing(path):
        fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sequence_predictions(inputs, outputs, targets, path: Path, title: str = "",
                              sequences: int = 4) -> None:
    """Seed 000's picture: for the first few test sequences, the input, the target and the
    model's prediction at every step (first feature of each)."""
    count = min(sequences, len(outputs))
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count, 3), squeeze=False, sharey=True)
    for k, axis in enumerate(axes[0]):
        steps = np.arange(outputs.shape[1])
        axis.plot(steps, inputs[k, :, 0].numpy(), ":", color="grey", label="input")
        axis.plot(steps, targets[k, :, 0].numpy(), "-", color="tab:red", label="target")
        axis.plot(steps, outputs[k, :, 0].numpy(), "--", color="tab:blue", label="prediction")
        axis.set_xlabel("step")
        axis.set_title(f"test sequence {k + 1}", fontsize="small")
    axes[0][0].legend(loc="best", fontsize="small")
    fig.suptitle(title, fontsize="small")
    fig.tight_layout()
    with writing(path):
        fig.savefig(path)
    plt.close(fig)
