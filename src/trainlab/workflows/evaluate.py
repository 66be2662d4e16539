"""`evaluate_run(run)`: reload a run's checkpoint and score it, with per-class detail."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..analysis import plot_confusion_matrix
from ..data import TensorLoader
from ..engine import Runner, confusion_matrix, per_class_accuracy, resolve_device, writing
from .checkpoint_metadata import checkpoint_metadata
from .config import build_config, dataset_for
from .run_dir import (
    SPLIT_RECORD,
    RunDirError,
    RunLock,
    csv_writer,
    load_run_model,
    recorded_data_changes,
    resolve_run_dir,
    write_json,
)

SPLITS = ("test", "dev", "train")


def predict_split(runner: Runner, loader) -> tuple[torch.Tensor, torch.Tensor]:
    """All logits and labels of a loader, on the CPU."""
    logits, labels = [], []
    for x, y in loader:
        logits.append(runner.predict(x).cpu())
        labels.append(y.cpu())
    return torch.cat(logits), torch.cat(labels)


def evaluate_run(run: str | Path, split: str = "test", checkpoint: str | None = None,
                 device="auto", echo=print, allow_changed_data: bool = False) -> dict:
    """Accuracy, loss, per-class accuracy and confusion matrix; saved in the run directory as
    evaluation-<split>.json, confusion-<split>.csv and confusion-<split>.png.

    `checkpoint`: best (default), last, or the path of another checkpoint (relative to the
    working directory), which must fit the run: same model and options, data, classes and input
    shape. When the data no longer holds the images the run recorded in data-split.json (a
    changed folder can move trained-on images into test), the evaluation is refused unless
    `allow_changed_data`, and the report then says what changed."""
    if split not in SPLITS:
        raise ValueError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    run_dir = resolve_run_dir(run)
    config = build_config(run_dir / "config.yaml")
    with RunLock(run_dir, "evaluate"):
        data = dataset_for(config)
        changed = recorded_data_changes(run_dir, data, [split])
        if changed and not allow_changed_data:
            raise RunDirError(f"the data {config.data} changed since {run_dir} was trained: "
                              f"{changed}, so its {split} score would not mean what it says; "
                              "evaluate with the data the run was trained on, or pass "
                              "--allow-changed-data to score the data as it is now")
        if changed:
            echo(f"warning: the data changed since the run was trained: {changed}")
        if not (run_dir / SPLIT_RECORD).is_file():
            echo(f"note: {run_dir} has no {SPLIT_RECORD} (trained by an older trainlab), so "
                 "whether the data changed since cannot be checked")
        if len(getattr(data, split)) == 0:
            raise RunDirError(f"{run_dir} has no {split} split (trained with --dev-fraction 0); "
                              "choose another --split")
        return _evaluate(run_dir, config, data, split, checkpoint, device, echo, changed)


def _evaluate(run_dir, config, data, split, checkpoint, device, echo, changed) -> dict:
    device = resolve_device(device)
    model, meta = load_run_model(run_dir, checkpoint, device=device,
                                 expected=checkpoint_metadata(config, data))
    # Score with the precision the run trained and was tested with, so the figures agree.
    runner = Runner(model, None, F.cross_entropy, None, device=device,
                    precision=config.precision, progress=False,
                    test_time_flip=config.test_time_flip)
    echo(data.describe())
    prep = meta["preprocessing"]
    loader = TensorLoader(getattr(data, split), config.eval_batch_size, prep["mean"], prep["std"],
                          device=device)
    logits, labels = predict_split(runner, loader)
    names = meta["class_names"]
    matrix = confusion_matrix(logits.argmax(1), labels, len(names))
    per_class = per_class_accuracy(matrix)
    checkpoint = str(checkpoint or "best")
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
    if changed:
        report["data_changed"] = changed
    write_json(run_dir / f"evaluation-{split}.json", report)
    with writing(run_dir / f"confusion-{split}.csv"), \
            open(run_dir / f"confusion-{split}.csv", "w", newline="") as handle:
        writer = csv_writer(handle)
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
