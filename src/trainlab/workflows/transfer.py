"""Starting from trained weights: what `train` does with --pretrained, --weights, --freeze and
--fine-tune (the model-side pieces are in models/_transfer.py)."""
from __future__ import annotations

import torch

from ..engine import create_optimizer, create_scheduler
from ..engine.optim import create_fine_tune_scheduler
from ..models import (
    WeightsError,
    freeze_backbone,
    load_weights,
    published_state_dict,
    read_weights_file,
    split_head_parameters,
)
from .config import ConfigError, TrainConfig


def load_starting_weights(model, config: TrainConfig, echo=print) -> None:
    """--pretrained (torchvision's published weights, through its cache) or --weights FILE into
    `model`, the head left as built for the data's classes; then --freeze backbone."""
    try:
        if config.pretrained:
            echo(load_weights(model, config.model, published_state_dict(config.model, echo),
                              f"{config.model}'s published weights"))
        elif config.weights:
            echo(load_weights(model, config.model, read_weights_file(config.weights),
                              config.weights))
    except WeightsError as error:
        raise ConfigError(str(error)) from error
    if config.freeze == "backbone":
        frozen, trainable = freeze_backbone(model)
        echo(f"--freeze backbone: training the head's {trainable:,} parameters; {frozen:,} "
             "frozen (BatchNorm statistics too)")


def create_training_optimizer(config: TrainConfig, model, steps_per_epoch: int,
                              device: torch.device | None = None):
    """(optimizer, scheduler) for `config`: over the trainable parameters; with --fine-tune two
    groups, head then backbone, and a two-stage schedule (the head alone for
    fine_tune_head_epochs, then everything at fine_tune_lr_factor x lr). On a CPU the optimizer
    is the fused one (engine/optim.py: measured faster there; GPUs not measured yet)."""
    total = config.epochs * steps_per_epoch
    fused = device is not None and device.type == "cpu"
    if config.fine_tune:
        head, backbone = split_head_parameters(model)
        optimizer = create_optimizer(config.optimizer, [{"params": head}, {"params": backbone}],
                                     config.lr, config.momentum, config.weight_decay, fused)
        return optimizer, create_fine_tune_scheduler(
            config.schedule, optimizer, config.fine_tune_head_epochs * steps_per_epoch, total,
            config.fine_tune_lr_factor)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = create_optimizer(config.optimizer, trainable, config.lr, config.momentum,
                                 config.weight_decay, fused)
    return optimizer, create_scheduler(config.schedule, optimizer, total)


def describe_fine_tune(config: TrainConfig) -> str:
    return (f"--fine-tune: the head alone for {config.fine_tune_head_epochs} epoch(s) at lr "
            f"{config.lr:g}, then everything for {config.epochs - config.fine_tune_head_epochs} "
            f"epoch(s) at lr {config.lr * config.fine_tune_lr_factor:g}")
