"""`plot_run(run, what)`: draw a run's pictures again, or for the first time (`trainlab plot`)."""
from __future__ import annotations

import json
from pathlib import Path

from ..analysis import plot_curves, plot_samples
from .config import build_config, dataset_for, with_data
from .evaluate import (
    SPLITS,
    checked_data,
    plot_errors,
    report_name,
    write_confusion_pictures,
)
from .run_dir import SAMPLES, RunDirError, checkpoint_path, read_metrics, resolve_run_dir

PICTURES = ("curves", "confusion", "samples", "errors")


def plot_run(run: str | Path, what: str = "all", split: str = "test",
             checkpoint: str | None = None, device="auto", echo=print,
             allow_changed_data: bool = False, data: str | None = None) -> list[Path]:
    """Write the run's pictures and return their paths. `what`: curves (curves.png, from
    metrics.csv), confusion (confusion-<split>.png, its normalised twin and
    confused-pairs-<split>.csv, from evaluation-<split>.json), samples (samples.png, from the
    data), errors (errors-<split>.png: runs the checkpoint on the split, refusing changed data
    as evaluate does unless `allow_changed_data`), or all. Asked for by
    name, a picture whose source is missing is an error; with `all` it is skipped, saying why.
    `data`: where the run's data is now, for samples and errors (checked as evaluate checks it).

    >>> plot_run("runs/cnn5", "samples")
    [PosixPath('runs/cnn5/samples.png')]
    """
    if what != "all" and what not in PICTURES:
        raise ValueError(f"--what must be all or one of {', '.join(PICTURES)}, got {what!r}")
    if split not in SPLITS:
        raise ValueError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    run_dir = resolve_run_dir(run)
    config = build_config(run_dir / "config.yaml")
    written = []
    for name in PICTURES if what == "all" else (what,):
        try:
            paths = _draw(name, run_dir, config, split, checkpoint, device, echo,
                          allow_changed_data, data)
        except MissingSource as missing:
            if what != "all":
                raise RunDirError(str(missing)) from None
            echo(f"skipped {name}: {missing}")
            continue
        for path in paths:
            echo(f"wrote {path}")
        written += paths
    return written


class MissingSource(Exception):
    """What a picture is drawn from is not in the run directory (yet)."""


def _draw(name, run_dir, config, split, checkpoint, device, echo,
          allow_changed_data, moved_to) -> list[Path]:
    if name == "curves":
        metrics = run_dir / "metrics.csv"
        if not metrics.is_file():
            raise MissingSource(f"{run_dir} has no metrics.csv (training has not logged yet)")
        plot_curves(read_metrics(metrics), run_dir / "curves.png",
                    title=f"{run_dir.name}: {config.model} on {config.data}")
        return [run_dir / "curves.png"]
    if name == "confusion":
        named = report_name(split, checkpoint)
        report_path = run_dir / f"evaluation-{named}.json"
        if not report_path.is_file():
            asked = f" --checkpoint {checkpoint}" if named != split else ""
            raise MissingSource(f"{run_dir} has no evaluation-{named}.json; run `trainlab "
                                f"evaluate {run_dir} --split {split}{asked}` first")
        report = json.loads(report_path.read_text())
        if "confusion_matrix" not in report:
            raise MissingSource(f"{run_dir} is a regression run: it has no classes to confuse")
        write_confusion_pictures(run_dir, split, report["confusion_matrix"],
                                 report["class_names"], report["accuracy"], report["checkpoint"],
                                 named)
        return [run_dir / f"confusion-{named}.png", run_dir / f"confusion-{named}-normalised.png",
                run_dir / f"confused-pairs-{named}.csv"]
    if name in ("samples", "errors") and dataset_for(with_data(config, moved_to)).input_kind != "image":
        raise MissingSource(f"{name} shows images, and {config.data} holds none")
    if name == "samples":
        # Data given as moved must hold the images the run recorded, as for errors.
        data = checked_data(run_dir, config, "train", echo, allow_changed_data, moved_to)[0] \
            if moved_to else dataset_for(config)
        plot_samples(data.train.images, data.train.labels, data.class_names, run_dir / SAMPLES,
                     title=f"{run_dir.name}: training images of {config.data}")
        return [run_dir / SAMPLES]
    if checkpoint in (None, "best", "last") and not checkpoint_path(run_dir, checkpoint).is_file():
        raise MissingSource(f"{run_dir} has no {checkpoint or 'best'} checkpoint yet to find "
                            "its errors with")
    return [plot_errors(run_dir, split, checkpoint, device, echo, allow_changed_data, moved_to)]
