"""`--precision auto` on a CPU: measure the candidates on the run's own model, don't guess.

Whether bf16 pays on a CPU depends on the CPU, not only on whether it has bf16 instructions: on
an AMD EPYC with AVX512-BF16 bf16 autocast with channels-last trained ResNet-18 1.3x faster than
fp32, on an Intel Xeon with AMX the same autocast was 12% slower (issue 12's table). So before
training, a few real training steps (forward, loss, backward, optimizer step) of a copy of the
model on one batch of the run's data are timed for each candidate layout (those close to the
fastest timed again, as one timing can be unlucky), and the fastest is used; fp32 stays
unless another candidate is clearly faster (by more than `MARGIN`, the timing noise on a
shared machine). The answer is cached per (CPU, torch version, threads, model, input
shape, batch size), so a machine measures it once, in seconds; the figures go to the log and to
results.json. The global random state is left exactly as it was (a cached and a measured run
train the same way).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .checkpoint import atomic_write
from .device import autocast_factory, move_inputs, native_bf16, uses_convolutions
from .optim import create_optimizer
from .single_pixel import use_single_pixel_path
from .tap_trimming import NoTrimming, TapTrimmer

MARGIN = 0.05  # a candidate must train at least 5% faster than fp32 to be chosen over it
# Candidates within CLOSE of the fastest are timed again, RETIMES more times, each keeping its
# best: on a busy 16-core host (four other 2-core jobs), one pass measured ResNet-18's bf16
# channels-last 636 against fp32 623 images/s and kept fp32, which then trained at 553 against
# 711 (in turns, benchmarks/RESULTS.md, Intel Xeon with AMX).
CLOSE, RETIMES = 0.15, 2
CACHE_FILE = "precision-choices.json"
# Part of the cache key: answers timed before the Runner's single-pixel convolutions, the fused
# optimizer and the timing windows (each changes which candidate wins) are measured again.
CALIBRATION = ("single-pixel convs in every layout, fused SGD, timed windows after a preparing "
               "step, taps trimmed where the optimizer allows, close candidates timed again")


@dataclass(frozen=True)
class Candidate:
    precision: str  # fp32 or bf16 (autocast)
    channels_last: bool

    @property
    def label(self) -> str:
        return self.precision + (" channels-last" if self.channels_last else "")


@dataclass
class PrecisionChoice:
    precision: str
    channels_last: bool
    images_per_second: dict[str, float]  # candidate label -> measured training images/s
    cached: bool
    key: str

    @property
    def label(self) -> str:
        return Candidate(self.precision, self.channels_last).label

    def describe(self) -> str:
        figures = ", ".join(f"{label} {rate:,.0f}" for label, rate in
                            sorted(self.images_per_second.items(), key=lambda kv: -kv[1]))
        where = "cached for this machine" if self.cached else "measured now"
        return (f"precision auto: {self.label} (training images/s, {where}: {figures}; "
                "--precision fp32|bf16 forces one)")


def candidates(model: torch.nn.Module) -> list[Candidate]:
    """fp32 always; bf16 where the CPU has native bf16; channels-last only for convolutions."""
    layouts = (False, True) if uses_convolutions(model) else (False,)
    precisions = ("fp32", "bf16") if native_bf16(torch.device("cpu")) else ("fp32",)
    return [Candidate(p, cl) for p in precisions for cl in layouts]  # fp32 first


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_path() -> Path:
    root = os.environ.get("TRAINLAB_CACHE_DIR") or Path.home() / ".cache" / "trainlab"
    return Path(root) / CACHE_FILE


def training_step(model, x, y, loss_fn, candidate: Candidate, trim_taps: bool = False):
    """A function that runs one training step (forward, loss, backward, fused SGD) of a copy of
    `model` on (x, y), laid out and cast as the Runner runs `candidate` on the CPU; trim_taps:
    the optimizer steps only the in-image taps of single-pixel convolutions, as the Runner does
    for an optimizer that allows it (engine/tap_trimming.py; this one has no weight decay)."""
    trial = copy.deepcopy(model).train()
    use_single_pixel_path(trial)  # as the Runner on a CPU
    if candidate.channels_last:
        trial = trial.to(memory_format=torch.channels_last)
    x = move_inputs(x, torch.device("cpu"), candidate.channels_last)
    optimizer = create_optimizer("sgd", trial.parameters(), lr=1e-6, fused=True)  # as training
    autocast = autocast_factory(torch.device("cpu"), candidate.precision)

    trimmer = TapTrimmer(trial, optimizer) if trim_taps else NoTrimming()

    def step():
        with autocast():
            loss = loss_fn(trial(x), y)
        loss.backward()
        trimmer.before_step()
        optimizer.step()
        trimmer.after_step()
        optimizer.zero_grad(set_to_none=True)

    return step


def measure_training_speed(model, x, y, loss_fn, candidate: Candidate, steps: int = 3,
                           give_up_after: float = float("inf"), seconds: float = 0.3,
                           windows: int = 3, trim_taps: bool = False) -> float:
    """Training images/s of `training_step`, after one step that pays for oneDNN's one-off
    kernel preparation (bf16's costs several plain steps). The steps are timed in `windows`
    windows of at least `steps / windows` steps and `seconds / windows` seconds each (at least
    `steps` steps in all), and the fastest window counts: a few milliseconds of steps, or one
    window that a background process interrupted, measured the same layout up to 1.8x apart on
    a shared 2-core machine. When the step after the preparing one takes longer than
    `give_up_after` seconds the candidate has lost anyway: that step's rate is returned without
    the timed windows, so a very slow layout costs two steps."""
    step = training_step(model, x, y, loss_fn, candidate, trim_taps)
    step()  # oneDNN prepares its kernels: not timed, and not a reason to give up
    started = time.perf_counter()
    step()
    second = time.perf_counter() - started
    if second > give_up_after:
        return len(y) / second
    best = 0.0
    # A model whose step takes seconds (large images) gets one step per window, not more.
    steps_per_window = max(1, math.ceil(steps / windows))
    for _ in range(windows):
        started, done = time.perf_counter(), 0
        while done < steps_per_window or time.perf_counter() - started < seconds / windows:
            step()
            done += 1
        best = max(best, done * len(y) / (time.perf_counter() - started))
    return best


def choose_precision(model, x, y, loss_fn, key: str, measure=measure_training_speed,
                     cache: Path | None = None, trim_taps: bool = False) -> PrecisionChoice:
    """The fastest candidate for training `model` on batches like (x, y) on this CPU.

    `key` names what the answer depends on besides the machine (model, options, input shape,
    batch size); `measure` is the timing function (tests pass their own); trim_taps: time the
    steps as the Runner runs them where the optimizer allows it (`trims_taps`; `measure`
    is then called with `trim_taps=True`)."""
    cache = cache or cache_path()
    if trim_taps:
        measure, key = functools.partial(measure, trim_taps=True), key + " | taps trimmed"
    full_key = " | ".join([cpu_name(), f"torch {torch.__version__}",
                           f"{torch.get_num_threads()} threads", CALIBRATION, key])
    known = read_cache(cache).get(full_key)
    if known:
        return PrecisionChoice(known["precision"], known["channels_last"],
                               known["images_per_second"], cached=True, key=full_key)
    rates: dict[Candidate, float] = {}
    with torch.random.fork_rng(devices=[]):  # dropout in the trial steps draws random numbers
        for candidate in candidates(model):  # fp32 first: the one to beat
            best_step = len(y) / max(rates.values()) if rates else float("inf")
            rates[candidate] = measure(model, x, y, loss_fn, candidate,
                                       give_up_after=3 * best_step)
        for _ in range(RETIMES):
            close = [c for c in rates if rates[c] >= (1 - CLOSE) * max(rates.values())]
            if len(close) < 2:
                break
            for candidate in close:
                rates[candidate] = max(rates[candidate],
                                       measure(model, x, y, loss_fn, candidate))
    fp32 = rates[Candidate("fp32", False)]
    fastest = max(rates, key=rates.get)
    chosen = fastest if rates[fastest] > fp32 * (1 + MARGIN) else Candidate("fp32", False)
    choice = PrecisionChoice(chosen.precision, chosen.channels_last,
                             {c.label: round(r, 1) for c, r in rates.items()}, cached=False,
                             key=full_key)
    write_cache(cache, full_key, choice)
    return choice


def read_cache(path: Path) -> dict:
    """The cached answers; an unreadable or damaged cache is treated as empty (it is only a
    cache: the choice is measured again and the file rewritten)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_cache(path: Path, key: str, choice: PrecisionChoice) -> None:
    entries = read_cache(path)
    record = asdict(choice)
    for field in ("cached", "key"):
        record.pop(field)
    entries[key] = record
    # A read-only home directory: the run goes on and measures again next time.
    with contextlib.suppress(OSError):
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(entries, indent=1)))
