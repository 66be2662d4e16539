"""Multi-process training with PyTorch's own engine: torchrun + DistributedDataParallel.

`torchrun --nproc_per_node=N -m trainlab train ...` (or `trainlab train --nproc N`, which runs
exactly that) starts N processes; each trains on its share of every batch, gradients are averaged
by DDP, and rank 0 alone writes the run directory. gloo on CPUs, nccl on GPUs.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .device import DeviceError


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    return rank() == 0


class ProcessCountError(DeviceError):
    """More processes asked for than this machine has GPUs."""


def check_gpu_count(processes: int, device: torch.device) -> None:
    """One GPU per process on CUDA: refuse, before starting anything, what cannot run."""
    if device.type != "cuda" or processes <= 1:
        return
    available = torch.cuda.device_count()
    if processes > available:
        raise ProcessCountError(
            f"--nproc {processes} needs {processes} GPUs (one per process), but this machine has "
            f"{available}. Use --nproc {available} or fewer, or --device cpu --nproc {processes} "
            "to train with CPU processes.")


def setup(device: torch.device) -> torch.device:
    """Join the process group torchrun described in the environment; returns this rank's device."""
    if world_size() == 1 or dist.is_initialized():
        return device
    if device.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if local_rank >= torch.cuda.device_count():
            raise ProcessCountError(
                f"this is process {local_rank} on its machine, but the machine has only "
                f"{torch.cuda.device_count()} GPU(s): start at most that many processes per "
                "machine (torchrun --nproc-per-node), or pass --device cpu.")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    if not dist.is_initialized():
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_reduce_sum(values: list[float]) -> list[float]:
    """Sum numbers across processes (the per-epoch training loss/accuracy counts)."""
    if not dist.is_initialized():
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def broadcast(value):
    """Rank 0's value on every process (e.g. the run directory it created)."""
    if not dist.is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
