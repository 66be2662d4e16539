"""Checkpoints as plain data: tensors in safetensors, metadata as JSON in the same file.

Loading never unpickles anything, so a checkpoint someone sent you cannot run code. Files are
written to a temporary name in the same directory and moved into place with `os.replace`, so a
crash while saving leaves the previous file intact.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

METADATA_KEY = "trainlab"


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, or not a checkpoint; names the file."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module under DistributedDataParallel and torch.compile wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        else:
            return model


class WriteError(OSError):
    """A file could not be written (no space, no permission, ...); names the file and why."""


REASONS = {errno.ENOSPC: "no space left on the device", errno.EACCES: "permission denied",
           errno.EPERM: "permission denied", errno.EROFS: "the file system is read-only",
           errno.EDQUOT: "the disk quota is exceeded"}
ADVICE = {errno.ENOSPC: "free some space or choose another --out",
          errno.EDQUOT: "free some space or choose another --out",
          errno.EACCES: "make the folder writable or choose another --out",
          errno.EPERM: "make the folder writable or choose another --out",
          errno.EROFS: "choose another --out"}


@contextlib.contextmanager
def writing(path: str | Path, what: str = "write"):
    """Turn an OSError raised while writing `path` into a WriteError that names the file, says
    why in words, and what to do."""
    try:
        yield
    except WriteError:
        raise
    except OSError as error:
        reason = REASONS.get(error.errno, error.strerror or str(error))
        advice = ADVICE.get(error.errno)
        failure = WriteError(f"could not {what} {path}: {reason}"
                             + (f"; {advice}" if advice else ""))
        failure.errno = error.errno
        raise failure from error


def temporary_file_for(path: Path) -> str:
    """A new, empty file next to `path` (`.NAME.XXXXXXXX.tmp`) to write before `os.replace`.
    Created with mode 0666 minus the umask, like any file Python opens for writing (mkstemp's
    private 0600 would make checkpoints the one kind of run file others cannot read)."""
    path = Path(path)
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return str(temporary)
        except FileExistsError:
            continue


def atomic_write(path: Path, write, keep_previous: Path | None = None) -> None:
    """Call `write(temporary_path)`, then move the result to `path` in one step; with
    `keep_previous`, the file `path` held until then is moved there first. On any failure the
    temporary file is removed, `path` is untouched, and an OSError becomes a WriteError naming
    the file and why. The file gets the permissions any new file gets under the umask, whatever
    `write` did to them."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = temporary_file_for(path)
        try:
            mode = os.stat(temporary).st_mode & 0o777
            write(temporary)
            os.chmod(temporary, mode)  # safetensors makes the files it writes private (0600)
            if keep_previous is not None and path.exists():
                os.replace(path, keep_previous)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def remove_temporary_files(folder: Path) -> list[Path]:
    """Delete the `.NAME.*.tmp` files an interrupted `atomic_write` can leave (a SIGKILL gives it
    no chance to clean up); returns what was removed."""
    removed = []
    for path in Path(folder).glob(".*.tmp"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def save_checkpoint(path: str | Path, model: nn.Module, metadata: dict | None = None) -> None:
    """Save `model`'s state dict and JSON-able `metadata` to a .safetensors file."""
    state = {k: v.detach().contiguous().cpu() for k, v in unwrap_model(model).state_dict().items()}
    header = {METADATA_KEY: json.dumps(metadata or {})}
    atomic_write(Path(path), lambda tmp: save_file(state, tmp, metadata=header))


# The metadata is a few kB (class names, preprocessing); a header far larger is not ours.
MAX_METADATA_CHARS = 4_000_000


def read_checkpoint_metadata(path: str | Path) -> dict:
    """The JSON metadata of a .safetensors checkpoint, read from its header alone (no tensors)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint ({error}); it may be "
                              "truncated or corrupted") from error
    text = header.get(METADATA_KEY, "{}")
    if len(text) > MAX_METADATA_CHARS:
        raise CheckpointError(f"{path} cannot be used: its metadata is {len(text):,} characters "
                              f"long, more than the {MAX_METADATA_CHARS:,} a checkpoint needs")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly nested JSON
        raise CheckpointError(f"{path} cannot be used: its metadata is not valid JSON "
                              f"({type(error).__name__})") from error


def load_checkpoint(path: str | Path, device="cpu") -> tuple[dict, dict]:
    """Return (state_dict, metadata) from a .safetensors checkpoint."""
    path = Path(path)
    metadata = read_checkpoint_metadata(path)
    try:
        state = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint ({error}); it may be "
                              "truncated or corrupted") from error
    return state, metadata


def load_failure(error: Exception) -> str:
    """The line of a `torch.load(weights_only=True)` failure that says what went wrong (which
    global it refused to import), not the page of advice around it."""
    advice = ("weights only load failed", "please file an issue", "check the documentation")
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    refused = [line for line in lines if "unsupported global" in line.lower()]
    # Without a refused global (a file that is not a torch.save file at all), the unpickler's
    # own line ("Unsupported operand 103"), never torch's advice to load with weights_only=False.
    reasons = [line for line in lines if not line.lower().startswith(advice)]
    return (refused or reasons or [type(error).__name__])[0]


def save_state_dict(path: str | Path, model: nn.Module, metadata: dict | None = None) -> None:
    """Save for the Runner API: safetensors for a .safetensors path, else a torch.save dict
    of tensors (which `load_state_dict` reads back with weights_only=True)."""
    if str(path).endswith(".safetensors"):
        save_checkpoint(path, model, metadata)
        return
    state = unwrap_model(model).state_dict()
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def load_state_dict(path: str | Path, device="cpu") -> dict:
    """Read weights saved by `save_state_dict` without executing pickled code."""
    if str(path).endswith(".safetensors"):
        return load_checkpoint(path, device)[0]
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # pickle errors, truncation, refused globals
        raise CheckpointError(f"{path} could not be loaded as weights ({load_failure(error)}). "
                              "Only plain "
                              "tensor dicts are accepted; nothing in the file was run.") from error
