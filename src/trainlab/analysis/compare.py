"""Runs side by side: one table (Markdown, CSV) and one figure with their curves overlaid.

    >>> comparison = compare_runs(["runs/cnn5", "runs/resnet18"], out="runs/cnn-vs-resnet")
    >>> print(comparison.markdown())

Each run's figures come from its results.json (config.yaml for the model and data of an
unfinished run) and its metrics.csv; a figure a run does not have (an older run without
`macs`, a run without a dev split) is shown as "-".
"""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import yaml
from matplotlib import ticker

from ..engine.checkpoint import writing
from ..workflows.run_dir import CSV_LINE_END, RunDirError, read_metrics, resolve_run_dir

MISSING = "-"


def count_text(value: float) -> str:
    """6179 -> '6.18 K', 35436938 -> '35.44 M' (MACs per image)."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:g}"


# (column title, how to show the value); the values come from `run_record`.
COLUMNS = {
    "run": str,
    "model": str,
    "data": str,
    "parameters": lambda v: f"{v:,}",
    "MACs": count_text,
    "best dev accuracy": lambda v: f"{v:.4f}",
    "test accuracy": lambda v: f"{v:.4f}",
    "training time (s)": lambda v: f"{v:.1f}",
    "images/s": lambda v: f"{v:.0f}",
    "precision": str,
    "device": str,
}


@dataclass
class Comparison:
    """`records`: one dict per run with the COLUMNS' raw values (None where missing);
    `metrics`: each run's metrics.csv rows; `files`: what `write` wrote."""
    records: list[dict]
    metrics: list[list[dict]]
    files: list[Path] = field(default_factory=list)

    def cells(self) -> list[list[str]]:
        return [[MISSING if record[name] is None else show(record[name])
                 for name, show in COLUMNS.items()] for record in self.records]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
        lines += ["| " + " | ".join(row) + " |" for row in self.cells()]
        return "\n".join(lines) + "\n"

    def write(self, out: str | Path) -> list[Path]:
        """comparison.md, comparison.csv (raw numbers, empty where missing) and comparison.png
        in `out` (created if needed)."""
        out = Path(out)
        with writing(out):
            out.mkdir(parents=True, exist_ok=True)
        markdown, table, figure = (out / "comparison.md", out / "comparison.csv",
                                   out / "comparison.png")
        with writing(markdown):
            markdown.write_text(self.markdown())
        with writing(table), open(table, "w", newline="") as handle:
            writer = csv.writer(handle, lineterminator=CSV_LINE_END)
            writer.writerow(COLUMNS)
            writer.writerows([["" if record[name] is None else record[name] for name in COLUMNS]
                              for record in self.records])
        fig = draw_comparison(self.records, self.metrics)
        with writing(figure):
            fig.savefig(figure, dpi=110)
        plt.close(fig)
        self.files = [markdown, table, figure]
        return self.files


def run_record(run: str | Path) -> dict:
    """The COLUMNS' values for one run directory; RunDirError naming `run` if it is not one."""
    run_dir = resolve_run_dir(run)
    results = _read_json(run_dir / "results.json")
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise RunDirError(f"{run_dir}/config.yaml cannot be read: {error}") from error
    if not isinstance(config, dict):
        config = {}
    return {
        "run": run_dir.name or str(run_dir),
        "model": results.get("model") or config.get("model"),
        "data": results.get("data") or config.get("data"),
        "parameters": results.get("parameters"),
        "MACs": results.get("macs"),
        "best dev accuracy": results.get("best_dev_accuracy"),
        "test accuracy": results.get("test_accuracy"),
        "training time (s)": results.get("train_seconds"),
        "images/s": results.get("train_images_per_second"),
        "precision": results.get("precision"),
        "device": results.get("device"),
    }


def _read_json(path: Path) -> dict:
    """A run's results.json, or {} when it has none (an unfinished run)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RunDirError(f"{path} cannot be read: {error}") from error
    return data if isinstance(data, dict) else {}


def compare_runs(runs, out: str | Path | None = None) -> Comparison:
    """Read every run in `runs` (each must be a run directory) and, with `out`, write the table
    and figure there."""
    if not runs:
        raise RunDirError("give at least one run directory to compare")
    records = [run_record(run) for run in runs]
    names = [record["run"] for record in records]
    for record, run in zip(records, runs):  # two runs/<x>/best named alike: show the paths
        if names.count(record["run"]) > 1:
            record["run"] = str(run)
    metrics = []
    for run in runs:
        path = Path(run) / "metrics.csv"
        metrics.append(read_metrics(path) if path.is_file() else [])
    comparison = Comparison(records, metrics)
    if out is not None:
        comparison.write(out)
    return comparison


def default_out(root: str = "runs") -> Path:
    return Path(root) / time.strftime("compare-%Y%m%d-%H%M%S")


def epoch_positions(rows: list[dict]) -> list[float]:
    """Each row's place in epochs (1.0 = the end of the first), so runs with other batch sizes
    line up; from the steps per epoch the epoch-mean rows show."""
    ends = sorted({int(r["step"]) + 1 for r in rows if r["split"] == "train"})
    per_epoch = ends[0] if ends else None
    if per_epoch:
        return [(int(r["step"]) + 1) / per_epoch for r in rows]
    return [float(r["epoch"]) + 1 for r in rows]


def draw_comparison(records: list[dict], metrics: list[list[dict]]):
    """Dev accuracy (left) and loss (right: train epoch means solid, dev dashed) against epochs,
    one colour per run. Returns the matplotlib figure."""
    fig, (acc_axis, loss_axis) = plt.subplots(1, 2, figsize=(12, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (record, rows) in enumerate(zip(records, metrics)):
        colour = colours[index % len(colours)]
        x = epoch_positions(rows)
        dev = [(xi, r) for xi, r in zip(x, rows) if r["split"] == "dev"]
        train = [(xi, r) for xi, r in zip(x, rows) if r["split"] == "train"]
        name = record["run"]
        accuracy = [(xi, float(r["accuracy"])) for xi, r in dev if r.get("accuracy")]
        if accuracy:
            acc_axis.plot(*zip(*accuracy), "-o", color=colour, markersize=3, label=name)
        else:
            missing = "no dev split" if rows else "no metrics.csv"
            acc_axis.plot([], [], color=colour, label=f"{name} ({missing})")
        if train:
            loss_axis.plot([xi for xi, _ in train], [float(r["loss"]) for _, r in train], "-",
                           color=colour, label=f"{name} train")
        if dev:
            loss_axis.plot([xi for xi, _ in dev], [float(r["loss"]) for _, r in dev], "--",
                           color=colour, label=f"{name} dev")
    acc_axis.set_title("dev accuracy")
    acc_axis.set_ylabel("accuracy")
    loss_axis.set_title("loss (solid: train, epoch mean; dashed: dev)")
    loss_axis.set_ylabel("loss")
    for axis in (acc_axis, loss_axis):
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    fig.suptitle(f"{len(records)} run(s) compared")
    fig.tight_layout()
    return fig
