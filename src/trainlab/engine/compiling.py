"""`torch.compile` for the training step, with its compile time kept out of the training time.

Compiling happens the first time the compiled model sees an input shape, so by default it would
land inside the first training steps. `warm_up` runs forward and backward once for every batch
shape a loader will produce (the full batch and the last, smaller one), then puts the weights,
BatchNorm statistics, gradients and random number generators back exactly as they were: training
then starts from the same state as without compiling, and `Runner.compile_seconds` reports the
compile time on its own. Evaluation and prediction use the plain module (BatchNorm in eval mode
would be one more compilation, for little gain).
"""
from __future__ import annotations

import time

import torch

from .checkpoint import unwrap_model
from .device import move_batch

COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")


def compile_model(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    """The model compiled with `mode` (static shapes: one graph per batch shape)."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"unknown compile mode {mode!r}; choose from {', '.join(COMPILE_MODES)}")
    if mode == "none":
        return model
    return torch.compile(model, mode=mode, dynamic=False)


def training_batch_sizes(loader) -> list[int]:
    """The batch sizes a TensorLoader-like loader yields (its full and last batch)."""
    n, batch = loader.samples_per_process, loader.batch_size
    sizes = [min(batch, n)]
    if n % batch and not getattr(loader, "drop_last", False) and n > batch:
        sizes.append(n % batch)
    return sizes


def begin_step(mode: str) -> None:
    """Call before each training forward. CUDA graphs (reduce-overhead) replay into the same
    output memory every time; marking where a step begins tells them the last step's outputs
    (its activations, already used by its backward) may be overwritten. A run whose last batch
    is smaller (a second graph) stopped with "accessing tensor output of CUDAGraphs that has been
    overwritten" (one H100, torch 2.11), with and without this; the warm-up then added the
    second shape's gradients to the first's, which it no longer does (not yet rerun on a GPU:
    --drop-last, one shape, is the measured way to train with CUDA graphs)."""
    if mode == "reduce-overhead":
        torch.compiler.cudagraph_mark_step_begin()


def warm_up(runner, loader) -> float:
    """Compile the training step for `loader`'s batch shapes; returns the seconds it took.
    Loaders that cannot show a batch beforehand (no `peek`) are skipped: they compile during
    training."""
    batch = loader.peek() if hasattr(loader, "peek") else None
    if batch is None:
        return 0.0
    model = unwrap_model(runner.model)
    saved_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    saved_rng = torch.get_rng_state()
    saved_cuda_rng = torch.cuda.get_rng_state_all() if runner.device.type == "cuda" else None
    started = time.perf_counter()
    runner.model.train()
    # A real batch (the loader's peek leaves it where it was, mid-epoch after a resume too), so
    # that the compiled graph's guards (shape, dtype and every stride, even of a size-1 channel
    # axis) match what training feeds it; zeros of the same shape can differ in strides and
    # make it compile again inside the timed first epoch.
    x, y = batch
    for size in training_batch_sizes(loader):
        inputs, targets = move_batch(x[:size], y[:size], runner.device, runner.channels_last)
        begin_step(runner.compile_mode)
        with runner.autocast():
            loss = runner.loss_fn(runner.model(inputs), targets)
        loss.backward()
        # Each shape's gradients on their own, as in training: adding the second shape's into
        # the first's would read memory that CUDA graphs already hand to the next step.
        runner.optimizer.zero_grad(set_to_none=True)
    if runner.device.type == "cuda":
        torch.cuda.synchronize(runner.device)
    seconds = time.perf_counter() - started
    with torch.no_grad():
        for key, value in model.state_dict().items():
            value.copy_(saved_state[key])
    torch.set_rng_state(saved_rng)
    if saved_cuda_rng is not None:
        torch.cuda.set_rng_state_all(saved_cuda_rng)
    return seconds
