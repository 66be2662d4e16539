"""`evaluate_run(run)`: reload the best checkpoint and score it, with per-class detail."""
from __future__ import annotations

import csv
from pathlib import Path

import torch
import torch.nn.functional as F

from ..analysis import plot_confusion_matrix
from ..data import TensorLoader
from ..engine import Runner, confusion_matrix, per_class_accuracy, resolve_device, writing
from .config import build_config, dataset_for
from .run_dir import BEST, load_run_model, resolve_run_dir, write_json

SPLITS = ("test", "dev", "train")


def predict_split(runner: Runner, loader) -> tuple[torch.Tensor, torch.Tensor]:
    """All logits and labels of a loader, on the CPU."""
    logits, labels = [], []
    for x, y in loader:
        logits.append(runner.predict(x).cpu())
        labels.append(y.cpu())
    return torch.cat(logits), torch.cat(labels)


def evaluate_run(run: str | Path, split: str = "test", checkpoint: str = BEST, device="auto",
                 echo=print) -> dict:
    """Accuracy, loss, per-class accuracy and confusion matrix; saved in the run directory as
    evaluation-<split>.json, confusion-<split>.csv and confusion-<split>.png."""
    if split not in SPLITS:
        raise ValueError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    run_dir = resolve_run_dir(run)
    config = build_config(run_dir / "config.yaml")
    device = resolve_device(device)
    model, meta = load_run_model(run_dir, checkpoint, device=device)
    # Score with the precision the run trained and was tested with, so the figures agree.
    runner = Runner(model, None, F.cross_entropy, None, device=device,
                    precision=config.precision, progress=False,
                    test_time_flip=config.test_time_flip)
    data = dataset_for(config)
    echo(data.describe())
    prep = meta["preprocessing"]
    loader = TensorLoader(getattr(data, split), config.eval_batch_size, prep["mean"], prep["std"],
                          device=device)
    logits, labels = predict_split(runner, loader)
    names = meta["class_names"]
    matrix = confusion_matrix(logits.argmax(1), labels, len(names))
    per_class = per_class_accuracy(matrix)
    report = {
        "split": split,
        "checkpoint": checkpoint,
        "images": len(labels),
        "accuracy": (logits.argmax(1) == labels).float().mean().item(),
        "loss": F.cross_entropy(logits, labels).item(),
        "per_class_accuracy": dict(zip(names, per_class)),
        "confusion_matrix": matrix.tolist(),
        "class_names": names,
    }
    write_json(run_dir / f"evaluation-{split}.json", report)
    with writing(run_dir / f"confusion-{split}.csv"), \
            open(run_dir / f"confusion-{split}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true \\ predicted", *names])
        for name, row in zip(names, matrix.tolist()):
            writer.writerow([name, *row])
    title = f"{run_dir.name}: {split} accuracy {report['accuracy']:.4f} ({checkpoint})"
    plot_confusion_matrix(matrix.numpy(), names, run_dir / f"confusion-{split}.png", title=title)
    plot_confusion_matrix(matrix.numpy(), names, run_dir / f"confusion-{split}-normalised.png",
                          title=f"{title}\neach row: share of that true class", normalise=True)

    echo(f"{split} accuracy: {report['accuracy']:.4f}   loss: {report['loss']:.4f}   "
         f"({len(labels)} images, {checkpoint})")
    width = max(len(n) for n in names)
    echo(f"{'class':<{width}}  accuracy  images")
    for name, acc, total in zip(names, per_class, matrix.sum(1).tolist()):
        echo(f"{name:<{width}}  {'   n/a' if acc is None else f'{acc:8.4f}'}  {total:6d}")
    echo("confusion matrix (rows: true, columns: predicted):")
    for name, row in zip(names, matrix.tolist()):
        echo(f"{name:<{width}}  " + " ".join(f"{v:5d}" for v in row))
    echo(f"saved: {run_dir / f'evaluation-{split}.json'}, confusion-{split}.csv, "
         f"confusion-{split}.png, confusion-{split}-normalised.png")
    return report
