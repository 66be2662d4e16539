"""`run_experiment(name)`: every setting x seed as a normal run directory, then the report.

    >>> report = run_experiment("residual", data="fashion-mnist", seeds=3)
    >>> report.markdown_path   # runs/experiment-residual/report.md

Each run goes through `workflows.train` (the one training loop) into
OUT/<setting>/seed-<n>/. A rerun into the same OUT reuses every finished run (its results.json
is there and its config matches), resumes an interrupted one, and trains only what is missing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..data import DataError, create_dataset
from ..data._registry import DEFAULT_DATA_DIR
from ..workflows import TrainingInterrupted, build_config, resume, train
from ..workflows.config import config_differences
from ..workflows.run_dir import read_metrics
from ._base import Experiment, ExperimentError, Setting, get_experiment
from ._report import ExperimentReport, SettingRuns, write_report

# Data sets an experiment uses by default, best first: the seeds' own MNIST when its files are
# there, else Fashion-MNIST (Debian's package), which is offline on the development machine.
DEFAULT_DATA = ("mnist", "fashion-mnist")
# --quick: scikit-learn's digits (embedded, 1,797 images) unless --data says otherwise.
QUICK_DATA = "digits"
# Every experiment trains in fp32, as the seeds did. On the development CPU (bf16-capable) "auto"
# picks bf16, whose per-shape set-up made a 5-step ResNet-18 run take 10 s against fp32's 3 s.
BASE = dict(precision="fp32")


class SettingFailed(RuntimeError):
    """One setting's run failed; the message names the experiment, setting, seed and run
    directory, and `cause` is the original error."""

    def __init__(self, message: str, cause: BaseException):
        super().__init__(message)
        self.cause = cause


@dataclass
class FinishedRun:
    seed: int
    run_dir: Path
    results: dict
    metrics: list[dict]
    reused: bool  # finished in an earlier call into the same --out


def default_data(data_dir: str | Path = DEFAULT_DATA_DIR) -> str:
    """MNIST when its files are found, else Fashion-MNIST (the error, if neither is there,
    comes from Fashion-MNIST's loader and says where to put the files)."""
    for name in DEFAULT_DATA[:-1]:
        try:
            create_dataset(name, data_dir=data_dir, dev_fraction=0)
            return name
        except DataError:
            continue
    return DEFAULT_DATA[-1]


def default_out(name: str, root: str = "runs") -> Path:
    return Path(root) / f"experiment-{name}"


def setting_config(experiment: Experiment, setting: Setting, *, data: str, data_dir, seed: int,
                   epochs: int | None, quick: bool, run_dir: Path):
    # --quick wins over a setting's own epochs or subset (it is the small variant of all).
    values = {**BASE, **experiment.common, **setting.config, **(experiment.quick if quick else {})}
    if epochs is not None:
        values["epochs"] = epochs
    return build_config(**values, data=data, data_dir=str(data_dir), seed=seed, out=str(run_dir))


def train_or_reuse(config, run_dir: Path, echo) -> tuple[dict, bool]:
    """(results, reused): a finished run with the same settings is read, an interrupted one
    resumed, a missing one trained. A run made with other settings is refused: mixing them
    would report one setting's numbers under another's name."""
    if (run_dir / "config.yaml").is_file():
        saved = build_config(run_dir / "config.yaml")
        changes = config_differences(saved, config)
        if changes:
            raise ExperimentError(
                f"{run_dir} was trained with other settings ({'; '.join(changes)}); pass another "
                "--out, or delete that folder to train it again")
        if (run_dir / "results.json").is_file():
            return resume(run_dir, echo=lambda *a, **k: None).results, True
        return resume(run_dir, echo=echo).results, False
    return train(config, echo=echo).results, False


def run_experiment(name: str, data: str | None = None, seeds: int = 3, epochs: int | None = None,
                   out: str | Path | None = None, quick: bool = False,
                   data_dir: str | Path = DEFAULT_DATA_DIR, echo=print) -> ExperimentReport:
    """Train (or reuse) every setting of experiment `name` for seeds 1..`seeds`, then write
    OUT/report.md and OUT/report.png. `quick`: the small variant (digits by default), for a
    first look in under a minute."""
    experiment = get_experiment(name)
    if seeds < 1:
        raise ExperimentError(f"--seeds must be at least 1, got {seeds}")
    if epochs is not None and epochs < 1:
        raise ExperimentError(f"--epochs must be at least 1, got {epochs}")
    data = data or (QUICK_DATA if quick else default_data(data_dir))
    out = Path(out) if out else default_out(name)
    started = time.perf_counter()
    results: list[SettingRuns] = []
    total = len(experiment.settings) * seeds
    for setting in experiment.settings:
        runs = []
        for seed in range(1, seeds + 1):
            run_dir = out / setting.folder / f"seed-{seed}"
            echo(f"[{name} {len(results) * seeds + seed}/{total}] {setting.name}, seed {seed}: "
                 f"{run_dir}")
            try:
                config = setting_config(experiment, setting, data=data, data_dir=data_dir,
                                        seed=seed, epochs=epochs, quick=quick, run_dir=run_dir)
                finished, reused = train_or_reuse(config, run_dir, echo)
            except (ExperimentError, TrainingInterrupted, KeyboardInterrupt):
                raise
            except Exception as error:
                raise SettingFailed(f"experiment {name}: setting {setting.name!r}, seed {seed} "
                                    f"({run_dir}) failed: {error}", error) from error
            if reused:
                echo(f"  reused: {run_dir} already holds this finished run")
            runs.append(FinishedRun(seed, run_dir, finished,
                                    read_metrics(run_dir / "metrics.csv"), reused))
        results.append(SettingRuns(setting, runs))
    report = ExperimentReport(experiment, data, seeds, quick, results,
                              wall_seconds=time.perf_counter() - started,
                              command=command_line(name, data, seeds, epochs, out, quick))
    pictures = experiment.pictures(experiment, data, data_dir, out) if experiment.pictures else []
    write_report(report, out, pictures)
    echo(f"report: {report.markdown_path}  figure: {report.figure_path}")
    return report


def command_line(name, data, seeds, epochs, out, quick) -> str:
    """The `trainlab experiment` command that reproduces (or, rerun, reuses) this report."""
    parts = ["trainlab experiment", name, f"--data {data}", f"--seeds {seeds}"]
    parts += [f"--epochs {epochs}"] if epochs else []
    parts += [f"--out {out}"] + (["--quick"] if quick else [])
    return " ".join(parts)
