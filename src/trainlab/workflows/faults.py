"""Fault injection for the robustness tests, switched on only by an environment variable.

TRAINLAB_FAULT=kill-at-step:N    SIGKILL this process after training step N
TRAINLAB_FAULT=kill-in-eval:N    SIGKILL this process during the N-th evaluation (1-based)
TRAINLAB_FAULT=nan-at-step:N     make the weights NaN after step N (the next loss is NaN)
TRAINLAB_FAULT=sigint-at-step:N  send this process SIGINT (Ctrl-C) after training step N
TRAINLAB_FAULT=sigterm-at-step:N send this process SIGTERM after training step N

Steps are counted from 0, as the Runner's `step` is. The tests kill and interrupt real training
processes this way at exact, repeatable points. Without the
variable, nothing here is used.
"""
from __future__ import annotations

import os
import signal

import torch


def _parse() -> tuple[str, int] | None:
    spec = os.environ.get("TRAINLAB_FAULT")
    if not spec:
        return None
    kind, _, number = spec.partition(":")
    return kind, int(number)


SIGNALS = {"kill-at-step": signal.SIGKILL, "sigint-at-step": signal.SIGINT,
           "sigterm-at-step": signal.SIGTERM}


class _StepFault:
    def __init__(self, kind: str, step: int):
        self.kind, self.step = kind, step

    def on_step_end(self, runner, loader) -> None:
        if runner.global_step - 1 != self.step:
            return
        if self.kind in SIGNALS:
            os.kill(os.getpid(), SIGNALS[self.kind])
        if self.kind == "nan-at-step":
            with torch.no_grad():
                for parameter in runner.model.parameters():
                    parameter.fill_(float("nan"))


def from_environment() -> list:
    fault = _parse()
    return [_StepFault(*fault)] if fault and fault[0] in (*SIGNALS, "nan-at-step") else []


class _KillingLoader:
    """Yields the dev loader's batches; dies half-way through the N-th evaluation."""

    def __init__(self, loader, evaluation: int):
        self.loader, self.evaluation, self.count = loader, evaluation, 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.count += 1
        for index, batch in enumerate(self.loader):
            if self.count == self.evaluation and index == max(1, len(self.loader) // 2):
                os.kill(os.getpid(), signal.SIGKILL)
            yield batch


def wrap_dev_loader(loader):
    fault = _parse()
    return _KillingLoader(loader, fault[1]) if fault and fault[0] == "kill-in-eval" else loader
