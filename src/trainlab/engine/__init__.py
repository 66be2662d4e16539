"""The training engine: the Runner loop, metrics, checkpoints, optimizers, device/precision."""
from . import distributed
from .checkpoint import (
    CheckpointError,
    WriteError,
    load_checkpoint,
    save_checkpoint,
    unwrap_model,
    writing,
)
from .device import PRECISIONS, DeviceError, resolve_device
from .metrics import Accuracy, accuracy, confusion_matrix, per_class_accuracy
from .optim import OPTIMIZERS, SCHEDULES, create_optimizer, create_scheduler
from .runner import Runner, RunnerV3

__all__ = [
    "Runner", "RunnerV3", "distributed", "Accuracy", "accuracy", "confusion_matrix", "per_class_accuracy",
    "create_optimizer", "create_scheduler", "OPTIMIZERS", "SCHEDULES", "PRECISIONS",
    "resolve_device", "DeviceError", "save_checkpoint", "load_checkpoint", "CheckpointError", "unwrap_model",
    "WriteError", "writing",
]
