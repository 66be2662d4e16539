"""Resume checkpoints: `runs/<name>/resume.pt`, and the one before it, `resume-prev.pt`.

Each holds `Runner.training_state()` (weights, optimizer, scheduler, epoch, step, position in the
epoch, RNG states, best dev score, records) plus the resolved config and library versions.
Written atomically: the new file is complete under a temporary name before the current one
becomes `resume-prev.pt` and the new one takes its place, so a crash at any moment leaves at least
one loadable checkpoint. Read with `torch.load(weights_only=True)`: nothing in the file can run.
"""
from __future__ import annotations

import platform
from pathlib import Path

import torch

from .. import __version__
from ..engine import CheckpointError
from ..engine.checkpoint import atomic_write, load_failure

RESUME, PREVIOUS = "resume.pt", "resume-prev.pt"


def versions() -> dict:
    import torchvision

    return {"trainlab": __version__, "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__), "python": platform.python_version()}


class ResumeCheckpointer:
    """Runner callback: save a resume checkpoint every `every_steps` steps and at epoch ends."""

    def __init__(self, run_dir: Path, config: dict, every_steps: int):
        self.run_dir = Path(run_dir)
        self.config = config
        self.every_steps = every_steps
        self.last_saved_step: int | None = None

    def on_step_end(self, runner, loader) -> None:
        if self.every_steps and runner.global_step % self.every_steps == 0:
            self.save(runner, loader)

    def on_epoch_end(self, runner, row, loader) -> None:
        self.save(runner, loader)

    def save(self, runner, loader) -> None:
        state = runner.training_state(loader)  # raises on a non-finite loss: nothing is saved
        state["config"] = self.config
        state["versions"] = versions()
        atomic_write(self.run_dir / RESUME, lambda temporary: torch.save(state, temporary),
                     keep_previous=self.run_dir / PREVIOUS)
        self.last_saved_step = runner.global_step


def read_resume_checkpoint(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, garbage, or pickled code (refused, never run)
        raise CheckpointError(f"{path} is not a readable resume checkpoint "
                              f"({load_failure(error)})") from error
    if not isinstance(state, dict) or "global_step" not in state:
        raise CheckpointError(f"{path} is not a trainlab resume checkpoint")
    return state


def has_resume_checkpoint(run_dir: Path) -> bool:
    """Whether a resume checkpoint (readable or not) exists in `run_dir`."""
    return any((Path(run_dir) / name).exists() for name in (RESUME, PREVIOUS))


def load_resume_checkpoint(run_dir: Path, echo=print, apply=None) -> dict:
    """The newest usable resume checkpoint; falls back to the previous one, saying so.

    `apply(state)` (e.g. loading it into the Runner) is part of "usable": a checkpoint that
    loads but does not fit the model is passed over like an unreadable one. Applying the older
    checkpoint replaces everything a failed attempt had set.
    """
    errors = []
    for name in (RESUME, PREVIOUS):
        path = Path(run_dir) / name
        if not path.exists():
            errors.append(f"{path}: missing")
            continue
        try:
            state = read_resume_checkpoint(path)
            if apply is not None:
                try:
                    apply(state)
                except Exception as error:  # wrong shapes, missing keys, wrong types
                    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    raise CheckpointError(f"{path} does not fit this run's model and settings "
                                          f"({first[:200]})") from error
        except CheckpointError as error:
            errors.append(str(error))
            continue
        if errors:
            echo(f"warning: {errors[-1]}; falling back to {path} (step {state['global_step']})")
        return state
    raise CheckpointError(f"cannot resume {run_dir}: no usable resume checkpoint\n  "
                          + "\n  ".join(errors))


def remove_resume_checkpoints(run_dir: Path) -> None:
    """A finished run needs no resume checkpoints (they are most of its size): remove them."""
    for name in (RESUME, PREVIOUS):
        (Path(run_dir) / name).unlink(missing_ok=True)
