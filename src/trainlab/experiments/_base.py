"""What an experiment is: settings to train (each a normal run), the seed's figures beside them.

An experiment file describes; `_run.py` trains and `_report.py` writes the report. A newcomer
adds an experiment by writing one file that calls `register_experiment(Experiment(...))`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


class ExperimentError(ValueError):
    """A bad experiment request (unknown name, a rerun into --out with other settings): one
    sentence saying what to do."""


@dataclass(frozen=True)
class SeedFigure:
    """One figure a seed document reports, quoted exactly, and the accuracy it states (0..1) so
    it can be drawn beside ours (None when the seed gives no number, e.g. only a curve)."""
    quote: str
    accuracy: float | None = None


@dataclass(frozen=True)
class Setting:
    """One arm of an experiment: a name for the table, the TrainConfig values that make it
    (model, options, optimizer, data transform...), and what the seed reports for it."""
    name: str
    config: dict
    seed_figure: SeedFigure | None = None

    @property
    def folder(self) -> str:
        """The setting's folder under the experiment's --out ("plain ResNet-18" -> plain-resnet-18)."""
        return "-".join("".join(c if c.isalnum() else " " for c in self.name.lower()).split())


@dataclass(frozen=True)
class Experiment:
    """`settings` are trained under `common` (TrainConfig values shared by all), with `quick`
    replacing values for --quick. `seed_source` says where the seed's figures are and
    `seed_setting` how the seed trained (data, epochs, batch, optimizer), for the report."""
    name: str
    title: str
    settings: tuple[Setting, ...]
    common: dict
    quick: dict
    seed_source: str
    seed_setting: str
    seed_data: str  # the data set the seed used, e.g. "MNIST"
    seed_epochs: str  # e.g. "5"
    notes: tuple[str, ...] = ()  # what to look for in the report
    # Extra pictures for the report: (experiment, data name, data dir, out) -> [(caption, path)]
    pictures: Callable[..., list[tuple[str, Path]]] | None = None


_EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(experiment: Experiment) -> Experiment:
    if experiment.name in _EXPERIMENTS:
        raise ValueError(f"experiment {experiment.name!r} is registered twice")
    folders = [s.folder for s in experiment.settings]
    if len(set(folders)) != len(folders):
        raise ValueError(f"experiment {experiment.name!r}: two settings share a folder name")
    _EXPERIMENTS[experiment.name] = experiment
    return experiment


def list_experiments() -> list[Experiment]:
    return [_EXPERIMENTS[name] for name in sorted(_EXPERIMENTS)]


def get_experiment(name: str) -> Experiment:
    if name not in _EXPERIMENTS:
        raise ExperimentError(f"unknown experiment {name!r}; choose one of "
                              f"{', '.join(sorted(_EXPERIMENTS))} (trainlab experiment --list)")
    return _EXPERIMENTS[name]
