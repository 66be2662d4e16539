"""The one report writer every experiment shares: report.md and report.png.

report.md: the table of mean +- std over seeds per setting (test accuracy, parameters, MACs,
training time), the figures the seed document reports (quoted) beside ours, one sentence on
where ours differs and why, and the run directories (saying which were reused).
report.png: dev accuracy and training loss per epoch (mean over seeds, +- std shaded) and test
accuracy per setting with the seed's figure beside it.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from ..analysis.compare import count_text
from ..engine.checkpoint import writing
from ._base import Experiment, Setting

REPORT, FIGURE = "report.md", "report.png"


@dataclass
class SettingRuns:
    """One setting and its finished runs (`_run.FinishedRun`: seed, run_dir, results,
    metrics, reused), one per seed."""
    setting: Setting
    runs: list


@dataclass
class ExperimentReport:
    experiment: Experiment
    data: str
    seeds: int
    quick: bool
    settings: list[SettingRuns]
    wall_seconds: float
    command: str
    markdown_path: Path | None = None
    figure_path: Path | None = None
    files: list[Path] = field(default_factory=list)


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (n - 1; None for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def show_mean_std(values: list[float], digits: int) -> str:
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std is not None else f"{mean:.{digits}f}"


def results_of(entry: SettingRuns, key: str) -> list:
    return [run.results.get(key) for run in entry.runs if run.results.get(key) is not None]


def table_rows(report: ExperimentReport) -> list[list[str]]:
    """One row per setting: name, runs, test accuracy, parameters, MACs, training time, and the
    seed's figure."""
    rows = []
    for entry in report.settings:
        accuracy = results_of(entry, "test_accuracy")
        seconds = results_of(entry, "train_seconds")
        parameters = sorted(set(results_of(entry, "parameters")))
        macs = sorted(set(results_of(entry, "macs")))
        figure = entry.setting.seed_figure
        rows.append([
            entry.setting.name, str(len(entry.runs)),
            show_mean_std(accuracy, 4) if accuracy else "-",
            " / ".join(f"{p:,}" for p in parameters) or "-",
            " / ".join(count_text(m) for m in macs) or "-",
            show_mean_std(seconds, 1) if seconds else "-",
            f"{figure.accuracy:.4f}" if figure and figure.accuracy is not None else "-",
        ])
    return rows


HEADER = ["setting", "seeds", "test accuracy (mean ± std)", "parameters", "MACs per image",
          "training time, s (mean ± std)", "seed document reports"]


def epochs_text(report: ExperimentReport) -> str:
    """"5 epoch(s)", or per setting when they differ ("5 epoch(s) (32-layer stacks: 3)")."""
    epochs = {entry.setting.name: entry.runs[0].results.get("epochs") for entry in report.settings}
    values = list(epochs.values())
    most = max(values, key=values.count)  # ties: the first setting's
    others = [f"{name}: {value}" for name, value in epochs.items() if value != most]
    return f"{most} epoch(s)" + (f" ({'; '.join(others)})" if others else "")


def differs_sentence(report: ExperimentReport) -> str:
    """Where our figures differ from the seed's, and why (data, epochs, subset, seeds)."""
    experiment, first = report.experiment, report.settings[0].runs[0].results
    sizes = first.get("data_sizes") or {}
    data_note = ("" if report.data.lower() == experiment.seed_data.lower()
                 else f" (a different data set from the seed's {experiment.seed_data}, so the "
                      "accuracies are not directly comparable)")
    return (f"Ours trains on {report.data}{data_note} with {sizes.get('train', '?'):,} training "
            f"images for {epochs_text(report)} and averages {report.seeds} seed(s), where the seed "
            f"trained on {experiment.seed_data} for {experiment.seed_epochs} epoch(s) and reports "
            "a single run, so differences of a few tenths of a percent are within seed noise "
            "and larger gaps come from the data set and the different amount of training.")


def markdown(report: ExperimentReport, pictures: list[tuple[str, Path]], out: Path) -> str:
    experiment = report.experiment
    lines = [f"# Experiment `{experiment.name}`: {experiment.title}", ""]
    first = report.settings[0].runs[0].results
    sizes = first.get("data_sizes") or {}
    lines += [f"Data: **{report.data}** ({sizes.get('train', '?')} train / {sizes.get('dev', '?')}"
              f" dev / {sizes.get('test', '?')} test images), {epochs_text(report)}, "
              f"seeds 1-{report.seeds}" + (", **--quick** (a first look, not a result)"
                                          if report.quick else "") + ".",
              f"Reproduce (a rerun into the same --out reuses the finished runs): "
              f"`{report.command}`", ""]
    lines += ["## Results", "", "| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(report)]
    lines += ["", "Mean ± sample standard deviation (n - 1) over the seeds, from each run's "
              "results.json; test accuracy of the best-dev checkpoint; training time excludes "
              "evaluation.", "", f"![curves and accuracies]({FIGURE})", ""]
    lines += ["## What the seed document reports", "",
              f"{experiment.seed_source}. Setting: {experiment.seed_setting}.", ""]
    for entry in report.settings:
        figure = entry.setting.seed_figure
        if figure:
            lines.append(f"- {entry.setting.name}: {figure.quote}")
    lines += ["", "## Where ours differs", "", differs_sentence(report), ""]
    if experiment.notes:
        lines += ["## What to look for", ""] + [f"- {note}" for note in experiment.notes] + [""]
    for caption, path in pictures:
        lines += [f"![{caption}]({path.relative_to(out)})", "", caption, ""]
    lines += ["## Runs", ""]
    reused = 0
    for entry in report.settings:
        for run in entry.runs:
            reused += run.reused
            lines.append(f"- {entry.setting.name}, seed {run.seed}: `{run.run_dir}`"
                         + (" (reused: finished by an earlier call)" if run.reused else ""))
    seconds = sum(run.results.get("total_seconds") or 0 for e in report.settings for run in e.runs)
    lines += ["", f"This call took {report.wall_seconds:.0f} s of wall time on "
              f"{first.get('machine', 'this machine')} ({first.get('threads')} threads)"
              + (f"; {reused} finished run(s) were reused rather than trained again (the runs "
                 f"took {seconds:.0f} s when they were trained)" if reused else "") + ".", ""]
    return "\n".join(lines)


def epoch_curves(runs, split: str, column: str) -> tuple[list[int], np.ndarray]:
    """Per epoch (1, 2, ...) the last `split` row's `column` of each run: (epochs, runs x epochs),
    cut to the epochs every run has."""
    series = []
    for run in runs:
        by_epoch = {}
        for row in run.metrics:
            if row["split"] == split and row.get(column):
                by_epoch[int(row["epoch"]) + 1] = float(row[column])
        series.append([by_epoch[e] for e in sorted(by_epoch)])
    length = min((len(s) for s in series), default=0)
    return list(range(1, length + 1)), np.array([s[:length] for s in series])


def draw_report(report: ExperimentReport):
    """Dev accuracy and training loss per epoch (mean over seeds, +- std shaded), and test
    accuracy per setting (ours: mean +- std; the seed's figure hatched beside it)."""
    fig, (acc_axis, loss_axis, bar_axis) = plt.subplots(1, 3, figsize=(16, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, entry in enumerate(report.settings):
        colour = colours[index % len(colours)]
        for axis, split, column in ((acc_axis, "dev", "accuracy"), (loss_axis, "train", "loss")):
            epochs, values = epoch_curves(entry.runs, split, column)
            if not epochs:
                continue
            mean = values.mean(axis=0)
            axis.plot(epochs, mean, "-o", color=colour, markersize=3, label=entry.setting.name)
            if len(values) > 1:
                std = values.std(axis=0, ddof=1)
                axis.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2)
    names = [entry.setting.name for entry in report.settings]
    positions = np.arange(len(names))
    ours = [mean_std(results_of(e, "test_accuracy")) for e in report.settings]
    bar_axis.bar(positions - 0.2, [m for m, _ in ours], 0.4, yerr=[s or 0 for _, s in ours],
                 capsize=3, color=colours[0], label=f"ours ({report.data}, mean ± std)")
    seed = [e.setting.seed_figure.accuracy if e.setting.seed_figure
            and e.setting.seed_figure.accuracy is not None else np.nan for e in report.settings]
    if not all(np.isnan(seed)):
        bar_axis.bar(positions + 0.2, seed, 0.4, color="white", edgecolor="grey", hatch="//",
                     label=f"seed document ({report.experiment.seed_data})")
    bar_axis.set_xticks(positions, names, rotation=20, ha="right", fontsize=8)
    low = min([m for m, _ in ours] + [s for s in seed if not np.isnan(s)])
    bar_axis.set_ylim(max(0.0, low - 0.1), 1.0)
    bar_axis.set_ylabel("test accuracy")
    bar_axis.set_title("test accuracy: ours beside the seed's")
    acc_axis.set(title="dev accuracy (mean ± std over seeds)", xlabel="epoch", ylabel="accuracy")
    loss_axis.set(title="training loss, epoch mean", xlabel="epoch", ylabel="loss")
    for axis in (acc_axis, loss_axis):
        axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    for axis in (acc_axis, loss_axis, bar_axis):
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    fig.suptitle(f"experiment {report.experiment.name} on {report.data}, {report.seeds} seed(s)")
    fig.tight_layout()
    return fig


def write_report(report: ExperimentReport, out: Path,
                 pictures: list[tuple[str, Path]] = ()) -> list[Path]:
    """Write OUT/report.md and OUT/report.png; returns their paths."""
    out = Path(out)
    report.markdown_path, report.figure_path = out / REPORT, out / FIGURE
    fig = draw_report(report)
    with writing(report.figure_path):
        fig.savefig(report.figure_path, dpi=100)
    plt.close(fig)
    with writing(report.markdown_path):
        report.markdown_path.write_text(markdown(report, list(pictures), out))
    report.files = [report.markdown_path, report.figure_path, *(p for _, p in pictures)]
    return report.files
