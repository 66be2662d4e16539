"""`trainlab train --tensorboard`: the metrics rows as TensorBoard events in RUN/tensorboard/.

A Runner callback beside `MetricsWriter`, fed the same rows (`on_metrics`), so metrics.csv and
TensorBoard always show the same numbers:

    train/loss              each log step (--log-steps)     dev/loss, dev/accuracy   each evaluation
    train/epoch_loss,       each epoch end                  lr                       each log step
    train/epoch_accuracy                                                             and epoch end
    images_per_second       each epoch end (training images / training seconds so far)

and the run's settings as hparams (TensorBoard's HPARAMS tab, with dev accuracy and loss as
its metrics). Watch with `tensorboard --logdir runs`. Images per second are written at epoch
ends only: that is when the Runner's stopwatch has waited for the device, so the figure is true
on a GPU too.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .config import ConfigError

TENSORBOARD_DIR = "tensorboard"
HPARAM_METRICS = ("dev/accuracy", "dev/loss")


def check_tensorboard_installed() -> None:
    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("--tensorboard needs the tensorboard package, which is not installed: "
                          "pip install 'trainlab[tensorboard]' (in a clone: pip install -e "
                          "'.[tensorboard]'), or train without --tensorboard")


def hparam_value(value):
    """TensorBoard takes numbers, booleans and text; lists, mappings and None go as text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value)


class TensorBoardLog:
    """Runner callback writing the metrics rows to `folder` (see the module docstring).
    `purge_step`: on resume, the step training continues from; events from the interrupted
    run at or after it are hidden, as metrics.csv is cut back there."""

    def __init__(self, folder: Path, settings: dict, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        self.writer = SummaryWriter(str(folder), purge_step=purge_step)
        if not purge_step:  # a fresh run (a resumed one wrote its settings when it started)
            for event in hparams({k: hparam_value(v) for k, v in settings.items()},
                                 dict.fromkeys(HPARAM_METRICS, 0.0)):
                self.writer.file_writer.add_summary(event)
        self._lr_step: int | None = None

    def on_metrics(self, runner, row: dict) -> None:
        step, split = row["step"], row["split"]
        if split == "train_step":
            self.writer.add_scalar("train/loss", row["loss"], step)
        elif split == "dev":
            self.writer.add_scalar("dev/loss", row["loss"], step)
            self.writer.add_scalar("dev/accuracy", row["accuracy"], step)
        elif split == "train":
            self.writer.add_scalar("train/epoch_loss", row["loss"], step)
            if row.get("accuracy") is not None:
                self.writer.add_scalar("train/epoch_accuracy", row["accuracy"], step)
            if runner.train_seconds > 0:
                self.writer.add_scalar("images_per_second",
                                       runner.train_images / runner.train_seconds, step)
        if split in ("train_step", "train") and step != self._lr_step:
            self.writer.add_scalar("lr", row["lr"], step)
            self._lr_step = step
        # On disk at once, like metrics.csv's row: a killed run loses nothing a resume keeps.
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
