"""Device and precision, decided once; the loop just says `with autocast():`."""
from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16", "fp16")


class DeviceError(ValueError):
    """A device or precision this machine cannot give."""


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda if available, else mps, else cpu. An unavailable device is an error."""
    name = str(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"--device {name}: CUDA is not available on this machine; "
                           "use --device auto or cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise DeviceError(f"--device {name}: MPS is not available; use --device auto or cpu")
    return device


def autocast_factory(device: torch.device, precision: str):
    """A zero-argument function returning the autocast context for this device and precision."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if precision == "fp16" and device.type == "cpu":
        raise DeviceError("fp16 autocast is for GPUs; on a CPU use --precision bf16")
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


def move_batch(x, y, device: torch.device):
    """Put a batch on the device; integer images (e.g. read_image's uint8) become float, and
    integer targets int64, as the courses' loops do with x.float() / y.long()."""
    non_blocking = device.type == "cuda"
    x = x.to(device, non_blocking=non_blocking)
    y = y.to(device, non_blocking=non_blocking)
    if not x.is_floating_point():
        x = x.float()
    if not y.is_floating_point() and y.dtype != torch.long:
        y = y.long()
    return x, y
