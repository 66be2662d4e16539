"""The run directory: the unit of record. Everything needed to trust, compare or reuse a run.

    runs/<name>/config.yaml        resolved configuration (trainlab train --config reproduces it)
    runs/<name>/metrics.csv        step, epoch, split, loss, accuracy, lr
    runs/<name>/best.safetensors   best weights by dev accuracy (+ JSON metadata in the header)
    runs/<name>/last.safetensors   weights at the end of training
    runs/<name>/curves.png         loss and accuracy curves
    runs/<name>/results.json       test accuracy/loss, best dev accuracy, timings
    runs/<name>/bad-samples.txt    every file/row left out (--on-bad-sample skip) or passed over
    runs/<name>/error.log          the traceback of an unexpected error (the CLI says so)
"""
from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

from ..engine import CheckpointError, load_checkpoint, writing
from ..engine.checkpoint import atomic_write, read_checkpoint_metadata
from ..models import create_model
from .checkpoint_metadata import check_metadata

METRIC_COLUMNS = ["step", "epoch", "split", "loss", "accuracy", "lr"]
BEST, LAST = "best.safetensors", "last.safetensors"
# Every file/row left out (--on-bad-sample skip) or passed over (no image extension), and why.
BAD_SAMPLES = "bad-samples.txt"


class RunDirError(ValueError):
    pass


# The run directory this process is working on (set by new_run_dir and resolve_run_dir), so that
# the CLI can put an unexpected error's traceback next to the run's other files.
_current_run_dir: Path | None = None


def current_run_dir() -> Path | None:
    return _current_run_dir


def forget_current_run_dir() -> None:
    """Start a new command with no run directory known (the CLI may run several in a process)."""
    _set_current(None)


def _set_current(path: Path | None) -> Path | None:
    global _current_run_dir
    _current_run_dir = path
    return path


def new_run_dir(out: str | None, model: str, data: str, root: str = "runs") -> Path:
    """A fresh directory. An explicit `out` that already holds a run is refused, not overwritten."""
    if out:
        path = Path(out)
        if (path / "config.yaml").exists():
            raise RunDirError(f"{path} already holds a run; choose another --out or delete it")
    else:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model}-{Path(data).name or data}").strip("-")
        path = Path(root) / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
        suffix = 2
        while path.exists():
            path = path.with_name(f"{path.name.rsplit('~', 1)[0]}~{suffix}")
            suffix += 1
    with writing(path, "create the run directory"):
        path.mkdir(parents=True, exist_ok=True)
    return _set_current(path)


def resolve_run_dir(run: str | Path) -> Path:
    path = Path(run)
    if not (path / "config.yaml").is_file():
        raise RunDirError(f"{path} is not a run directory (no config.yaml); pass the folder that "
                          "`trainlab train` printed")
    return _set_current(path)


class MetricsWriter:
    """Runner callback: append each metrics row to metrics.csv as it happens (a crash keeps them)."""

    def __init__(self, path: Path, append: bool = False):
        self.path = path
        if not append:
            with writing(path), open(path, "w", newline="") as handle:
                csv.writer(handle).writerow(METRIC_COLUMNS)

    def keep_rows(self, count: int) -> None:
        """Cut the file back to its header and first `count` rows (on resume)."""
        lines = self.path.read_text().splitlines(keepends=True)
        with writing(self.path):
            self.path.write_text("".join(lines[:1 + count]))

    def on_metrics(self, runner, row: dict) -> None:
        with writing(self.path), open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow([_format(row.get(c)) for c in METRIC_COLUMNS])


def _format(value):
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def read_metrics(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_lines(path: Path, lines: list[str]) -> None:
    text = "".join(f"{line}\n" for line in lines)
    atomic_write(path, lambda temporary: Path(temporary).write_text(text))


def write_json(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=2) + "\n"
    atomic_write(path, lambda temporary: Path(temporary).write_text(text))


def load_run_model(run: str | Path, which: str = BEST, device="cpu"):
    """(model, metadata) rebuilt from a run's checkpoint; no pickle involved. The metadata is
    checked before anything is built from it (a checkpoint may come from anyone)."""
    path = Path(run) / which
    meta = check_metadata(read_checkpoint_metadata(path), path)
    try:
        model = create_model(meta["model"], in_channels=meta["in_channels"],
                             num_classes=meta["num_classes"], input_size=tuple(meta["input_size"]),
                             **meta.get("model_options", {}))
    except Exception as error:  # e.g. an input too small for the model's layers
        raise CheckpointError(f"{path} cannot be used: its metadata describes a model that cannot "
                              f"be built ({error})") from error
    state, _ = load_checkpoint(path, device=device)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[:2]
        raise CheckpointError(f"{path} cannot be used: its weights do not fit the "
                              f"{meta['model']!r} model its metadata describes "
                              f"({' '.join(s.strip() for s in first)[:300]})") from error
    return model.to(device).eval(), meta
