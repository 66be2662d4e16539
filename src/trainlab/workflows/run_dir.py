"""The run directory: the unit of record. Everything needed to trust, compare or reuse a run.

    runs/<name>/config.yaml        resolved configuration (trainlab train --config reproduces it)
    runs/<name>/data-split.json    which images train/dev/test held (content hashes)
    runs/<name>/metrics.csv        step, epoch, split, loss, accuracy, lr
    runs/<name>/best.safetensors   best weights by dev accuracy (+ JSON metadata in the header)
    runs/<name>/last.safetensors   weights at the end of training
    runs/<name>/curves.png         loss and accuracy curves
    runs/<name>/results.json       test accuracy/loss, best dev accuracy, timings
    runs/<name>/bad-samples.txt    every file/row left out (--on-bad-sample skip) or passed over
    runs/<name>/error.log          the traceback of an unexpected error (the CLI says so)

While a process trains, resumes or evaluates a run it holds an OS lock on the directory
(`RunLock`), so a second process is refused instead of interleaving its files.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import time
from pathlib import Path

from ..data import absolute_data_spec, split_changes
from ..engine import CheckpointError, load_checkpoint, writing
from ..engine.checkpoint import atomic_write, read_checkpoint_metadata
from ..models import create_model
from .checkpoint_metadata import check_metadata

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

METRIC_COLUMNS = ["step", "epoch", "split", "loss", "accuracy", "lr"]
BEST, LAST = "best.safetensors", "last.safetensors"
SPLIT_RECORD = "data-split.json"
# Every CSV trainlab writes ends its lines with "\n" (csv's own default is "\r\n"), so a file
# rewritten in part (metrics.csv on resume) is byte for byte what one uninterrupted write gives.
CSV_LINE_END = "\n"
# Every file/row left out (--on-bad-sample skip) or passed over (no image extension), and why.
BAD_SAMPLES = "bad-samples.txt"
# A grid of training images with their class names, written as a run starts.
SAMPLES = "samples.png"


class RunDirError(ValueError):
    pass


# The run directory this process is working on (set by new_run_dir and resolve_run_dir), so that
# the CLI can put an unexpected error's traceback next to the run's other files.
_current_run_dir: Path | None = None


def current_run_dir() -> Path | None:
    return _current_run_dir


def forget_current_run_dir() -> None:
    """Start a new command with no run directory known (the CLI may run several in a process)."""
    _set_current(None)


def _set_current(path: Path | None) -> Path | None:
    global _current_run_dir
    _current_run_dir = path
    return path


# Files an otherwise empty --out may hold: the Windows lock file RunLock leaves, and what file
# managers add to a folder they show.
NOT_USER_FILES = {".lock", ".DS_Store", "Thumbs.db", "desktop.ini"}


def check_out_is_free(out: str | None) -> None:
    """An explicit --out must be a new or an empty directory: a run writes config.yaml,
    metrics.csv, results.json... there and would replace files of the same names. Checked
    before the data load (a mistake costs nothing) and again when the directory is made."""
    if not out:
        return
    path = Path(out)
    if not path.exists():
        return
    if not path.is_dir():
        raise RunDirError(f"--out {path} is a file, not a directory; choose another --out")
    if (path / "config.yaml").exists():
        if not (path / "results.json").exists():
            raise RunDirError(f"{path} holds a run that stopped before its end: `trainlab train "
                              f"--resume {path}` continues it; or choose another --out")
        raise RunDirError(f"{path} already holds a run; choose another --out or delete it")
    entries = sorted(entry.name for entry in path.iterdir() if entry.name not in NOT_USER_FILES)
    if entries:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise RunDirError(f"--out {path} is not empty ({len(entries)} entries: {shown}) and a run "
                          "would write its files among them; choose a new or empty directory")


def new_run_dir(out: str | None, model: str, data: str, root: str = "runs") -> tuple[Path, bool]:
    """A fresh directory, and whether it was created here (False: an existing empty `out`).
    An explicit `out` that is not empty is refused (`check_out_is_free`), never written into."""
    if out:
        check_out_is_free(out)
        path = Path(out)
    else:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model}-{Path(data).name or data}").strip("-")
        path = Path(root) / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
        suffix = 2
        while path.exists():
            path = path.with_name(f"{path.name.rsplit('~', 1)[0]}~{suffix}")
            suffix += 1
    created = not path.exists()
    with writing(path, "create the run directory"):
        path.mkdir(parents=True, exist_ok=True)
    return _set_current(path), created


def remove_unstarted_run(path: Path, created: bool) -> None:
    """Undo `new_run_dir` for a run that failed before its first step, so the directory does not
    block the next `--out`: the files a run writes at its start, then the directory if it was
    created for this run and is now empty."""
    for name in ("config.yaml", SPLIT_RECORD, BAD_SAMPLES, SAMPLES, "metrics.csv"):
        with contextlib.suppress(OSError):  # an unwritable folder: the first error is the news
            (path / name).unlink(missing_ok=True)
    shutil.rmtree(path / "tensorboard", ignore_errors=True)  # train --tensorboard's events
    if created:
        with contextlib.suppress(OSError):  # something else is in it: leave it
            path.rmdir()


class RunLock:
    """An exclusive OS lock on a run directory for as long as a process trains, resumes or
    evaluates it. The kernel releases it when the process ends, even by SIGKILL, so there is
    no stale lock to clean up. A second process is refused at once with a RunDirError.

    >>> with RunLock(run_dir, "train"):
    ...     ...
    """

    def __init__(self, path: Path, doing: str):
        self.path, self.doing = Path(path), doing
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        if fcntl is not None:  # flock on the directory itself: no lock file left behind
            fd = os.open(self.path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._busy() from None
        else:
            fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT)
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                os.close(fd)
                raise self._busy() from None
        self._fd = fd
        return self

    def _busy(self) -> RunDirError:
        return RunDirError(f"cannot {self.doing} {self.path}: another trainlab process is "
                           "using this run directory right now; wait for it to finish, or "
                           "choose another run directory")

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def resolve_run_dir(run: str | Path) -> Path:
    path = Path(run)
    if not (path / "config.yaml").is_file():
        raise RunDirError(f"{path} is not a run directory (no config.yaml); pass the folder that "
                          "`trainlab train` printed")
    return _set_current(path)


class MetricsWriter:
    """Runner callback: append each metrics row to metrics.csv as it happens (a crash keeps them)."""

    def __init__(self, path: Path, append: bool = False, score_column: str = "accuracy"):
        self.path = path
        # Regression runs score R^2: their file has an r2 column where accuracy would be.
        self.columns = [score_column if c == "accuracy" else c for c in METRIC_COLUMNS]
        if not append:
            with writing(path), open(path, "w", newline="") as handle:
                csv_writer(handle).writerow(self.columns)

    def keep_rows(self, count: int) -> None:
        """Cut the file back to its header and first `count` rows (on resume); bytes are kept
        as they are, so the rows that stay are not rewritten."""
        lines = self.path.read_bytes().split(CSV_LINE_END.encode())
        with writing(self.path):
            self.path.write_bytes(CSV_LINE_END.encode().join(lines[:1 + count])
                                  + CSV_LINE_END.encode())

    def on_metrics(self, runner, row: dict) -> None:
        with writing(self.path), open(self.path, "a", newline="") as handle:
            csv_writer(handle).writerow([_format(row.get(c)) for c in self.columns])


def csv_writer(handle):
    """csv.writer with trainlab's one line ending (open the file with newline="")."""
    return csv.writer(handle, lineterminator=CSV_LINE_END)


def _format(value):
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def read_metrics(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def recorded_data_changes(run_dir: Path, data, splits=("train", "dev", "test")) -> str | None:
    """How `splits` of `data` differ from what the run recorded in data-split.json when it
    started (None: the same images; also None for runs older than the record)."""
    path = Path(run_dir) / SPLIT_RECORD
    if not path.is_file():
        return None
    try:
        recorded = json.loads(path.read_text())
        changes = [split_changes(recorded, data, split) for split in splits]
    except (ValueError, KeyError, TypeError) as error:
        raise RunDirError(f"{path} is not a readable data-split record ({error}); restore it "
                          "from a backup or delete it to skip this check") from error
    changes = [c for c in changes if c]
    return "; ".join(changes) or None


def write_lines(path: Path, lines: list[str]) -> None:
    text = "".join(f"{line}\n" for line in lines)
    atomic_write(path, lambda temporary: Path(temporary).write_text(text))


def write_json(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=2) + "\n"
    atomic_write(path, lambda temporary: Path(temporary).write_text(text))


# What a checkpoint must share with a run to be scored on that run's data.
MATCHING_KEYS = ("model", "model_options", "data", "in_channels", "input_size", "class_names")


def checkpoint_mismatches(metadata: dict, expected: dict) -> list[str]:
    """'key: checkpoint value vs run value' for each of MATCHING_KEYS that differs."""
    def show(value):
        if isinstance(value, list) and len(value) > 12:
            return "[" + ", ".join(map(str, value[:12])) + f", ... ({len(value)} in all)]"
        return repr(value)

    def same(key) -> bool:  # data specs as saved: a path typed relative or absolute is one place
        if key == "data" and isinstance(metadata.get(key), str) and isinstance(expected[key], str):
            return absolute_data_spec(metadata[key]) == absolute_data_spec(expected[key])
        return metadata.get(key) == expected[key]

    return [f"{key} {show(metadata.get(key))} (checkpoint) vs {show(expected[key])} (run)"
            for key in MATCHING_KEYS if not same(key)]


def checkpoint_path(run: str | Path, checkpoint: str | Path | None = None) -> Path:
    """`best`/`last` (or None: best) name the run's own checkpoints; anything else is a path,
    relative to the working directory like every other path."""
    names = {None: BEST, "best": BEST, "last": LAST}
    if checkpoint in names:
        return Path(run) / names[checkpoint]
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        hint = (f" (for the run's own {checkpoint}, write --checkpoint "
                f"{str(checkpoint).split('.')[0]})" if str(checkpoint) in (BEST, LAST) else "")
        raise RunDirError(f"--checkpoint {checkpoint}: no such file{hint}; give best, last, or "
                          "the path of a .safetensors checkpoint")
    return path


def load_run_model(run: str | Path, which: str | Path | None = None, device="cpu",
                   expected: dict | None = None):
    """(model, metadata) rebuilt from a run's checkpoint (`which`: best, last, or a path); no
    pickle involved. The metadata is checked before anything is built from it (a checkpoint may
    come from anyone), and the model it describes must build. With `expected` (a run's
    `checkpoint_metadata`), a checkpoint that does not fit that run (another model, data set,
    class list or input shape) is refused, naming both, before any weights are loaded."""
    path = checkpoint_path(run, which)
    meta = check_metadata(read_checkpoint_metadata(path), path)
    try:
        model = create_model(meta["model"], in_channels=meta["in_channels"],
                             num_classes=meta["num_classes"], input_size=tuple(meta["input_size"]),
                             **meta.get("model_options", {}))
    except Exception as error:  # e.g. an input too small for the model's layers
        raise CheckpointError(f"{path} cannot be used: its metadata describes a model that cannot "
                              f"be built ({error})") from error
    if expected is not None:
        mismatches = checkpoint_mismatches(meta, expected)
        if mismatches:
            raise RunDirError(f"checkpoint {path} does not belong to the run {run}: "
                              + "; ".join(mismatches) + ". Evaluate it with the run it came "
                              "from, or pass a checkpoint of this run")
    state, _ = load_checkpoint(path, device=device)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[:2]
        raise CheckpointError(f"{path} cannot be used: its weights do not fit the "
                              f"{meta['model']!r} model its metadata describes "
                              f"({' '.join(s.strip() for s in first)[:300]})") from error
    return model.to(device).eval(), meta
