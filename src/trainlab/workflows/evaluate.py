"""`evaluate_run(run)`: reload a run's checkpoint and score it, with per-class detail."""
from __future__ import annotations

import json
from pathlib import Path

import torch.nn.functional as F

from ..analysis import most_confused, plot_confusion_matrix, plot_top_losses
from ..data import TensorLoader
from ..engine import PRECISIONS, Runner, confusion_matrix, per_class_accuracy, resolve_device, writing
from ..engine.tasks import loss_function
from .checkpoint_metadata import checkpoint_metadata
from .config import build_config, check_data_is_there, dataset_for, with_data
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
from .task_reports import in_target_units, predict_loader, task_report

SPLITS = ("test", "dev", "train")
ERROR_GRID_SIZE = 16  # images in errors-<split>.png
CONFUSED_PAIRS = 10  # rows printed and saved in confused-pairs-<split>.csv


predict_split = predict_loader  # all logits and labels of a loader, on the CPU


def evaluate_run(run: str | Path, split: str = "test", checkpoint: str | None = None,
                 device="auto", echo=print, allow_changed_data: bool = False,
                 data: str | None = None) -> dict:
    """Accuracy, loss, per-class accuracy, confusion matrix and the most confused class pairs;
    saved in the run directory as evaluation-<split>.json, confusion-<split>.csv,
    confusion-<split>.png, confused-pairs-<split>.csv and errors-<split>.png (the most
    confidently wrong images); <split>-last or <split>-file-<file stem> for another checkpoint
    (`report_name`).

    `checkpoint`: best (default), last, or the path of another checkpoint (relative to the
    working directory), which must fit the run: same model and options, data, classes and input
    shape. When the data no longer holds the images the run recorded in data-split.json (a
    changed folder can move trained-on images into test), the evaluation is refused unless
    `allow_changed_data`, and the report then says what changed. `data`: where the run's data
    is now (moved, or another machine), e.g. folder:/new/place; the same check applies."""
    run_dir, config = _open_run(run, split)
    with RunLock(run_dir, "evaluate"):
        data, changed = checked_data(run_dir, config, split, echo, allow_changed_data, data)
        return _evaluate(run_dir, config, data, split, checkpoint, device, echo, changed)


def report_name(split: str, checkpoint: str | None) -> str:
    """The files' name part: `test` for the best checkpoint, `test-last` for the last and
    `test-file-<stem>` for another file ("file-": a stem such as "normalised" cannot take
    another file's name), so scoring one never replaces another's files."""
    if checkpoint in (None, "best"):
        return split
    return f"{split}-last" if checkpoint == "last" else f"{split}-file-{Path(checkpoint).stem}"


def _open_run(run, split):
    if split not in SPLITS:
        raise ValueError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    run_dir = resolve_run_dir(run)
    return run_dir, build_config(run_dir / "config.yaml")


def checked_data(run_dir, config, split, echo, allow_changed_data, moved_to: str | None = None):
    """(the run's data set, what changed since training or None); refuses changed data unless
    `allow_changed_data`, and an empty split. `moved_to`: the data spec to read instead of the
    saved one (the checkpoint still has to fit the run as it was trained)."""
    if moved_to is None:
        check_data_is_there(config.data)
    read = with_data(config, moved_to)
    data = dataset_for(read)
    changed = recorded_data_changes(run_dir, data, [split])
    if changed and not allow_changed_data:
        raise RunDirError(f"the data {read.data} changed since {run_dir} was trained: "
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
    return data, changed


def trained_precision(run_dir, config, device) -> tuple[str, bool | None]:
    """The precision and memory layout the run trained and was tested with, so evaluation gives
    the same figures. `--precision auto` on a CPU is measured per machine
    (engine/precision_choice.py), so config.yaml's "auto" alone does not say which; results.json
    does, for a run that finished on this kind of device."""
    results_file = run_dir / "results.json"
    if config.precision != "auto" or not results_file.is_file():
        return config.precision, None
    try:
        results = json.loads(results_file.read_text())
    except (OSError, ValueError):
        return config.precision, None
    same_kind = str(results.get("device", "")).split(":")[0] == device.type
    if not same_kind or results.get("precision") not in PRECISIONS:
        return config.precision, None
    return results["precision"], results.get("channels_last")


def score_split(run_dir, config, data, split, checkpoint, device):
    """(logits, labels, checkpoint metadata) of the run's checkpoint on one split, on the CPU."""
    device = resolve_device(device)
    model, meta = load_run_model(run_dir, checkpoint, device=device,
                                 expected=checkpoint_metadata(config, data))
    images = data.input_kind == "image"
    # Score with the precision the run trained and was tested with, so the figures agree.
    precision, channels_last = trained_precision(run_dir, config, device) if images \
        else ("fp32", None)
    runner = Runner(model, None, F.cross_entropy, None, device=device, precision=precision,
                    channels_last=channels_last, progress=False,
                    test_time_flip=config.test_time_flip)
    prep = meta["preprocessing"]
    loader = TensorLoader(getattr(data, split), config.eval_batch_size,
                          prep["mean"] if images else None, prep["std"] if images else None,
                          device=device)
    logits, labels = predict_split(runner, loader)
    return logits, labels, meta


def plot_errors(run: str | Path, split: str = "test", checkpoint: str | None = None,
                device="auto", echo=print, allow_changed_data: bool = False,
                data: str | None = None) -> Path:
    """Only errors-<split>.png: the run's checkpoint on `split`, without rewriting the
    evaluation files (what `trainlab plot RUN --what errors` calls). Returns its path."""
    run_dir, config = _open_run(run, split)
    with RunLock(run_dir, "plot"):
        data, _ = checked_data(run_dir, config, split, echo, allow_changed_data, data)
        logits, labels, meta = score_split(run_dir, config, data, split, checkpoint, device)
        return write_errors(run_dir, split, getattr(data, split).images, logits, labels,
                            meta["class_names"], str(checkpoint or "best"),
                            report_name(split, checkpoint))


def write_errors(run_dir, split, images, logits, labels, names, checkpoint, name) -> Path:
    """errors-<name>.png: the most confidently wrong images of the split."""
    path = run_dir / f"errors-{name}.png"
    wrong = int((logits.argmax(1) != labels).sum())
    shown = min(wrong, ERROR_GRID_SIZE)
    title = (f"{run_dir.name}: the {shown} most confidently wrong of {wrong} wrong {split} images "
             f"({checkpoint})" if wrong else f"{run_dir.name}: {split} images ({checkpoint})")
    plot_top_losses(images, logits, labels, names, path, k=ERROR_GRID_SIZE, title=title)
    return path


def write_confusion_pictures(run_dir, split, matrix, names, accuracy, checkpoint, name) -> list:
    """confusion-<name>.png, its row-normalised twin and confused-pairs-<name>.csv, from the
    confusion matrix alone (so `trainlab plot` redraws them from evaluation-<name>.json).
    Returns the most confused pairs."""
    title = f"{run_dir.name}: {split} accuracy {accuracy:.4f} ({checkpoint})"
    plot_confusion_matrix(matrix, names, run_dir / f"confusion-{name}.png", title=title)
    plot_confusion_matrix(matrix, names, run_dir / f"confusion-{name}-normalised.png",
                          title=f"{title}\neach row: share of that true class", normalise=True)
    pairs = most_confused(matrix, names, CONFUSED_PAIRS)
    write_confused_pairs(run_dir / f"confused-pairs-{name}.csv", pairs)
    return pairs


def write_confused_pairs(path: Path, pairs: list[tuple[str, str, int]]) -> None:
    with writing(path), open(path, "w", newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow(["actual", "predicted", "count"])
        writer.writerows(pairs)


def _evaluate_examples(run_dir, config, data, split, checkpoint, device, echo, changed) -> dict:
    """evaluation-<split>.json for a table or sequence run: the task's figures (regression in
    the target's units) and, for classes, the confusion matrix."""
    echo(data.describe())
    outputs, labels, _ = score_split(run_dir, config, data, split, checkpoint, device)
    name = report_name(split, checkpoint)
    checkpoint = str(checkpoint or "best")
    loss = loss_function(data.task)(outputs, labels).item()
    if data.task == "regression":
        outputs, labels = in_target_units(outputs, labels, data.preprocessing())
    report = {"split": split, "checkpoint": checkpoint, "task": data.task,
              "examples": len(labels), "loss": loss,
              **task_report(data.task, outputs, labels, data.class_names)}
    if changed:
        report["data_changed"] = changed
    write_json(run_dir / f"evaluation-{name}.json", report)
    if data.task != "regression":
        write_confusion_pictures(run_dir, split, report["confusion_matrix"], data.class_names,
                                 report["accuracy"], checkpoint, name)
    if data.task == "regression":
        echo(f"{split} MSE {report['mse']:.5g}   MAE {report['mae']:.5g}   R^2 {report['r2']:.4f}   "
             f"({len(labels)} examples, {checkpoint})")
    else:
        echo(f"{split} accuracy: {report['accuracy']:.4f}   loss: {loss:.4f}   "
             f"({len(labels)} examples, {checkpoint})")
        names = data.class_names
        width = max(len(n) for n in names)
        for class_name, acc in report["per_class_accuracy"].items():
            echo(f"{class_name:<{width}}  {'   n/a' if acc is None else f'{acc:8.4f}'}")
    echo(f"saved: {run_dir / f'evaluation-{name}.json'}" + ("" if data.task == "regression" else
         f", confusion-{name}.png, confusion-{name}-normalised.png, confused-pairs-{name}.csv"))
    return report


def _evaluate(run_dir, config, data, split, checkpoint, device, echo, changed) -> dict:
    if data.input_kind != "image":
        return _evaluate_examples(run_dir, config, data, split, checkpoint, device, echo,
                                  changed)
    echo(data.describe())
    logits, labels, meta = score_split(run_dir, config, data, split, checkpoint, device)
    names = meta["class_names"]
    matrix = confusion_matrix(logits.argmax(1), labels, len(names))
    per_class = per_class_accuracy(matrix)
    name = report_name(split, checkpoint)
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
    write_json(run_dir / f"evaluation-{name}.json", report)
    with writing(run_dir / f"confusion-{name}.csv"), \
            open(run_dir / f"confusion-{name}.csv", "w", newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow(["true \\ predicted", *names])
        for class_name, row in zip(names, matrix.tolist()):
            writer.writerow([class_name, *row])
    pairs = write_confusion_pictures(run_dir, split, matrix.numpy(), names, report["accuracy"],
                                     checkpoint, name)
    write_errors(run_dir, split, getattr(data, split).images, logits, labels, names, checkpoint,
                 name)

    echo(f"{split} accuracy: {report['accuracy']:.4f}   loss: {report['loss']:.4f}   "
         f"({len(labels)} images, {checkpoint})")
    width = max(len(n) for n in names)
    echo(f"{'class':<{width}}  accuracy  images")
    for class_name, acc, total in zip(names, per_class, matrix.sum(1).tolist()):
        echo(f"{class_name:<{width}}  {'   n/a' if acc is None else f'{acc:8.4f}'}  {total:6d}")
    echo("confusion matrix (rows: true, columns: predicted):")
    for class_name, row in zip(names, matrix.tolist()):
        echo(f"{class_name:<{width}}  " + " ".join(f"{v:5d}" for v in row))
    if pairs:
        pair_width = max(len("predicted"), *(len(n) for pair in pairs for n in pair[:2]))
        echo("most confused pairs:")
        echo(f"{'actual':<{pair_width}}  {'predicted':<{pair_width}}  images")
        for actual, predicted, count in pairs:
            echo(f"{actual:<{pair_width}}  {predicted:<{pair_width}}  {count:6d}")
    else:
        echo("most confused pairs: none (every image predicted right)")
    echo(f"saved: {run_dir / f'evaluation-{name}.json'}, confusion-{name}.csv, "
         f"confusion-{name}.png, confusion-{name}-normalised.png, confused-pairs-{name}.csv, "
         f"errors-{name}.png")
    return report
