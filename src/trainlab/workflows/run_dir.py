"""The run directory: the unit of record. Everything needed to trust, compare or reuse a run.

    runs/<name>/config.yaml        resolved configuration (trainlab train --config reproduces it)
    runs/<name>/metrics.csv        step, epoch, split, loss, accuracy, lr
    runs/<name>/best.safetensors   best weights by dev accuracy (+ JSON metadata in the header)
    runs/<name>/last.safetensors   weights at the end of training
    runs/<name>/curves.png         loss and accuracy curves
    runs/<name>/results.json       test accuracy/loss, best dev accuracy, timings
"""
from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

from ..engine import load_checkpoint
from ..models import create_model

METRIC_COLUMNS = ["step", "epoch", "split", "loss", "accuracy", "lr"]
BEST, LAST = "best.safetensors", "last.safetensors"


class RunDirError(ValueError):
    pass


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
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_run_dir(run: str | Path) -> Path:
    path = Path(run)
    if not (path / "config.yaml").is_file():
        raise RunDirError(f"{path} is not a run directory (no config.yaml); pass the folder that "
                          "`trainlab train` printed")
    return path


class MetricsWriter:
    """Runner callback: append each metrics row to metrics.csv as it happens (a crash keeps them)."""

    def __init__(self, path: Path, append: bool = False):
        self.path = path
        if not append:
            with open(path, "w", newline="") as handle:
                csv.writer(handle).writerow(METRIC_COLUMNS)

    def keep_rows(self, count: int) -> None:
        """Cut the file back to its header and first `count` rows (on resume)."""
        lines = self.path.read_text().splitlines(keepends=True)
        self.path.write_text("".join(lines[:1 + count]))

    def on_metrics(self, runner, row: dict) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow([_format(row.get(c)) for c in METRIC_COLUMNS])


def _format(value):
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def read_metrics(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def load_run_model(run: str | Path, which: str = BEST, device="cpu"):
    """(model, metadata) rebuilt from a run's checkpoint; no pickle involved."""
    state, meta = load_checkpoint(Path(run) / which, device=device)
    if "model" not in meta:
        raise RunDirError(f"{Path(run) / which} has no trainlab metadata (model name, classes)")
    model = create_model(meta["model"], in_channels=meta["in_channels"],
                         num_classes=meta["num_classes"], input_size=tuple(meta["input_size"]),
                         **meta.get("model_options", {}))
    model.load_state_dict(state)
    return model.to(device).eval(), meta
