"""What `trainlab train` prints while it trains: plain lines, epochs and steps counted from 1.

    epoch 1/5, step 100/2110: train loss 0.61234
    epoch 1/5: dev accuracy 0.8712, dev loss 0.35120 (best so far)
    epoch 1/5 done in 14.2 s: train loss 0.55210, train accuracy 0.8011; about 57 s left

One line per epoch with the time left also serves logs and pipes, where no progress bar is shown.
Lines go through `Runner.write`, above the progress bar when there is one. (The library's Runner
prints the course's own lines instead: `course_log=True`.)
"""
from __future__ import annotations

import time


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ConsoleLog:
    """Runner callback printing the plain progress lines above."""

    def __init__(self, num_epochs: int, steps_per_epoch: int):
        self.num_epochs, self.steps_per_epoch = num_epochs, steps_per_epoch
        self.started = time.perf_counter()
        self.epoch_started = self.started
        self.first_epoch: int | None = None  # the epoch this process started at (resume: later)

    def _epoch(self, row: dict) -> str:
        return f"epoch {row['epoch'] + 1}/{self.num_epochs}"

    def on_metrics(self, runner, row: dict) -> None:
        if self.first_epoch is None:
            self.first_epoch = row["epoch"]
        split = row["split"]
        if split == "train_step":
            runner.write(f"{self._epoch(row)}, step {row['step'] + 1}/"
                         f"{self.num_epochs * self.steps_per_epoch}: train loss {row['loss']:.5f}")
        elif split == "dev":
            column = runner.score_column  # accuracy; r2 for regression
            best = " (best so far)" if row[column] > runner.best_score else ""
            runner.write(f"{self._epoch(row)}: dev {column} {row[column]:.4f}, dev loss "
                         f"{row['loss']:.5f}{best}")
        elif split == "train":
            now = time.perf_counter()
            done = row["epoch"] + 1 - self.first_epoch  # epochs finished by this process
            left = (now - self.started) / done * (self.num_epochs - row["epoch"] - 1)
            accuracy = "" if row.get("accuracy") is None else \
                f", train accuracy {row['accuracy']:.4f}"
            runner.write(f"{self._epoch(row)} done in {format_duration(now - self.epoch_started)}: "
                         f"train loss {row['loss']:.5f}{accuracy}; "
                         + (f"about {format_duration(left)} left" if left > 0 else "all epochs done"))
            self.epoch_started = now
