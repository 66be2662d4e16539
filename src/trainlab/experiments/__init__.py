"""The seed documents' experiments as code: one file per experiment, one shared report writer.

    >>> from trainlab.experiments import run_experiment, list_experiments
    >>> report = run_experiment("permuted-pixels", data="fashion-mnist", seeds=3)

Each setting trains as a normal run directory through `workflows.train`; see `_run.py`.
"""
from . import activations, models, optimizers, permuted_pixels, residual  # noqa: F401 (registering)
from ._base import (
           Experiment,
           ExperimentError,
           SeedFigure,
           Setting,
           get_experiment,
           list_experiments,
           register_experiment,
)
from ._report import ExperimentReport, mean_std, write_report
from ._run import SettingFailed, default_data, default_out, run_experiment

__all__ = ["run_experiment", "list_experiments", "get_experiment", "register_experiment",
           "Experiment", "Setting", "SeedFigure", "ExperimentError", "ExperimentReport",
           "SettingFailed", "write_report", "mean_std", "default_data", "default_out"]
