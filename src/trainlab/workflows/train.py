"""`train(config)`: data -> model -> Runner -> run directory. What `trainlab train` calls."""
from __future__ import annotations

import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import __version__
from ..analysis import plot_curves
from ..data import TensorLoader, create_dataset
from ..engine import Accuracy, Runner, create_optimizer, create_scheduler, resolve_device
from ..models import create_model
from .config import TrainConfig
from .run_dir import BEST, LAST, MetricsWriter, new_run_dir, read_metrics, write_json


@dataclass
class TrainResult:
    run_dir: Path
    results: dict


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def checkpoint_metadata(config: TrainConfig, data) -> dict:
    """What a checkpoint needs to be used on its own: the model to build, the classes, and how
    an image must be prepared (plain JSON, stored inside the safetensors file)."""
    return {
        "format": "trainlab-checkpoint-1",
        "model": config.model,
        "model_options": config.model_options,
        "in_channels": data.in_channels,
        "num_classes": data.num_classes,
        "input_size": list(data.image_size),
        "class_names": data.class_names,
        "preprocessing": data.preprocessing(),
        "data": config.data,
        "trainlab_version": __version__,
        "torch_version": torch.__version__,
    }


def train(config: TrainConfig, echo=print) -> TrainResult:
    """Train as `config` says; write and return the run directory and results."""
    config.validate()
    started = time.perf_counter()
    seed_everything(config.seed)
    device = resolve_device(config.device)
    data = create_dataset(config.data, data_dir=config.data_dir, image_size=config.image_size,
                          dev_fraction=config.dev_fraction, limit_train=config.limit_train,
                          download=config.download)
    echo(data.describe())
    for note in data.notes:
        echo(f"note: {note}")

    run_dir = new_run_dir(config.out, config.model, config.data)
    config.save(run_dir / "config.yaml")
    model = create_model(config.model, in_channels=data.in_channels, num_classes=data.num_classes,
                         input_size=data.image_size, **config.model_options)
    n_params = sum(p.numel() for p in model.parameters())
    echo(f"model: {config.model} ({n_params:,} parameters) on {device}, {config.precision}")

    train_loader = TensorLoader(data.train, config.batch_size, data.mean, data.std, shuffle=True,
                                augment=config.augment, seed=config.seed, device=device)
    dev_loader = TensorLoader(data.dev, config.eval_batch_size, data.mean, data.std, device=device)
    test_loader = TensorLoader(data.test, config.eval_batch_size, data.mean, data.std,
                               device=device)
    optimizer = create_optimizer(config.optimizer, model.parameters(), config.lr,
                                 config.momentum, config.weight_decay)
    scheduler = create_scheduler(config.schedule, optimizer, config.epochs * len(train_loader))
    runner = Runner(model, optimizer, F.cross_entropy, Accuracy(), device=device,
                    scheduler=scheduler, precision=config.precision,
                    callbacks=[MetricsWriter(run_dir / "metrics.csv")],
                    checkpoint_metadata=checkpoint_metadata(config, data))
    runner.train(train_loader, dev_loader, num_epochs=config.epochs, log_steps=config.log_steps,
                 eval_steps=config.eval_steps, eval_at_epoch_end=config.eval_steps == 0,
                 save_path=run_dir / BEST)
    runner.save_model(run_dir / LAST)

    runner.load_model(run_dir / BEST)
    test_accuracy, test_loss = runner.evaluate(test_loader)
    plot_curves(read_metrics(run_dir / "metrics.csv"), run_dir / "curves.png",
                title=f"{config.model} on {config.data}")
    results = {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "best_dev_accuracy": runner.best_score,
        "final_train_loss": runner.train_epoch_losses[-1],
        "epochs": config.epochs,
        "steps": runner.global_step,
        "train_seconds": round(runner.train_seconds, 3),
        "train_images_per_second": round(runner.train_images / max(runner.train_seconds, 1e-9), 1),
        "total_seconds": round(time.perf_counter() - started, 3),
        "parameters": n_params,
        "model": config.model,
        "data": config.data,
        "data_sizes": {"train": len(data.train), "dev": len(data.dev), "test": len(data.test)},
        "data_notes": data.notes,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or platform.platform()}",
        "trainlab_version": __version__,
        "torch_version": torch.__version__,
    }
    write_json(run_dir / "results.json", results)
    echo(f"best dev accuracy: {runner.best_score:.4f}; training took {runner.train_seconds:.1f} s "
         f"({results['train_images_per_second']:.0f} images/s)")
    echo(f"curves: {run_dir / 'curves.png'}   checkpoint: {run_dir / BEST}")
    echo(f"test accuracy: {test_accuracy:.4f}")
    echo(f"run directory: {run_dir}")
    return TrainResult(run_dir, results)
