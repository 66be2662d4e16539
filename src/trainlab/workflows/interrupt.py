"""Ctrl-C (SIGINT) and SIGTERM during training: finish the step, save a resume checkpoint, stop.

    with StopAtStepBoundary(checkpointer) as stopper:     # also a Runner callback
        runner.train(..., callbacks=[..., stopper])

A signal only sets a flag; at the end of the current step the stopper saves `resume.pt` (unless
that step was just saved) and raises `TrainingInterrupted`, which the CLI turns into
"interrupted at step N; continue with `trainlab train --resume DIR`" and exit status 128 + the
signal number (130 for Ctrl-C, 143 for SIGTERM). A second signal is not deferred: it stops at once.
"""
from __future__ import annotations

import signal
import threading
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(Exception):
    """Training was stopped by a signal after a resume checkpoint was saved."""

    def __init__(self, step: int, signum: int, run_dir: Path | None):
        self.step, self.signum, self.run_dir = step, signum, run_dir
        super().__init__(f"interrupted at step {step}"
                         + (f"; continue with `trainlab train --resume {run_dir}`"
                            if run_dir is not None else ""))

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopAtStepBoundary:
    """Runner callback and context manager; see the module docstring."""

    def __init__(self, checkpointer=None, run_dir: Path | None = None):
        self.checkpointer, self.run_dir = checkpointer, run_dir
        self.signum: int | None = None
        self._previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # signals need the main thread
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._request_stop)
        return self

    def __exit__(self, *exc_info):
        self._restore()
        return False

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _request_stop(self, signum, frame) -> None:
        self.signum = signum
        self._restore()  # a second Ctrl-C / SIGTERM acts at once

    def on_step_end(self, runner, loader) -> None:
        if self.signum is None:
            return
        checkpointer = self.checkpointer
        if checkpointer is not None and checkpointer.last_saved_step != runner.global_step:
            checkpointer.save(runner, loader)
        raise TrainingInterrupted(runner.global_step, self.signum, self.run_dir)


class Terminated(KeyboardInterrupt):
    """SIGTERM outside the training loop, raised the way Ctrl-C raises KeyboardInterrupt."""

    signum = signal.SIGTERM


def raise_terminated(signum, frame):
    raise Terminated()
