"""`train(config)`: data -> model -> Runner -> run directory. What `trainlab train` calls."""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import platform
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import __version__
from ..analysis import plot_curves, plot_samples
from ..analysis.summary import count_macs
from ..data import TensorLoader, absolute_data_spec, record_splits
from ..data.transforms import normalize, scale_and_shift
from ..engine import Runner, distributed, resolve_device
from ..engine.checkpoint import WriteError, remove_temporary_files
from ..engine.compiling import training_batch_sizes
from ..engine.precision_choice import choose_precision
from ..engine.runner import NonFiniteLossError
from ..engine.tap_trimming import trims_taps
from ..engine.tasks import create_metric, loss_function
from ..models import create_model, get_model_entry, list_models
from . import faults
from .checkpoint_metadata import checkpoint_metadata
from .config import (
    ConfigError,
    TrainConfig,
    build_config,
    check_data_is_there,
    config_differences,
    dataset_for,
    with_data,
)
from .console_log import ConsoleLog
from .interrupt import StopAtStepBoundary
from .resume import (
    RESUME,
    ResumeCheckpointer,
    has_resume_checkpoint,
    load_resume_checkpoint,
    remove_resume_checkpoints,
)
from .run_dir import (
    BAD_SAMPLES,
    BEST,
    LAST,
    SAMPLES,
    SPLIT_RECORD,
    MetricsWriter,
    RunDirError,
    RunLock,
    check_out_is_free,
    new_run_dir,
    read_metrics,
    recorded_data_changes,
    remove_unstarted_run,
    resolve_run_dir,
    write_json,
    write_lines,
)
from .task_reports import task_results, write_task_pictures
from .tensorboard_log import TENSORBOARD_DIR, TensorBoardLog, check_tensorboard_installed
from .transfer import create_training_optimizer, describe_fine_tune, load_starting_weights


class TrainingStopped(RuntimeError):
    """Training stopped on its own (a non-finite loss); says why and what was kept."""


@dataclass
class TrainResult:
    run_dir: Path
    results: dict


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs a fixed workspace for deterministic matmuls; cuDNN must not autotune.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)


def resume(run: str | Path, force: bool = False, echo=print, **overrides) -> TrainResult:
    """Continue an interrupted run; refuses a changed config or changed data (listing the
    changes) unless forced. A finished run is left as it is, saying how to train it longer."""
    run_dir = resolve_run_dir(run)
    saved = build_config(run_dir / "config.yaml")
    wanted = build_config(run_dir / "config.yaml", **overrides)
    # --data naming the same kind of source elsewhere says where the data is now (moved, another
    # machine): the run keeps its record, and data-split.json checks it is the same data.
    moved_to = None
    if wanted.data != saved.data and wanted.data.partition(":")[0] == saved.data.partition(":")[0] \
            and wanted.data.partition(":")[2]:
        moved_to, wanted = wanted.data, dataclasses.replace(wanted, data=saved.data)
    changes = config_differences(saved, wanted)
    if (run_dir / "results.json").is_file():
        finished = (f"{run_dir} already finished its {saved.epochs} epoch(s) (results in "
                    f"{run_dir / 'results.json'}); --resume changes nothing. To train longer, "
                    f"start a new run from its settings: trainlab train --config "
                    f"{run_dir / 'config.yaml'} --epochs N --out NEW_DIR")
        if changes:
            raise RunDirError(finished + " (asked for: " + "; ".join(changes) + ")")
        if distributed.is_main_process():  # under torchrun, said once
            echo(finished)
        return TrainResult(run_dir, json.loads((run_dir / "results.json").read_text()))
    if changes and not force:
        raise ConfigError(f"{run_dir} was trained with other settings; resuming would mix two "
                          "configurations:\n  " + "\n  ".join(changes)
                          + "\nDrop those flags, or add --force to resume with them anyway.")
    if moved_to is None:
        check_data_is_there(saved.data)
    return train(wanted, echo=echo, resume_dir=run_dir, allow_changed_data=force,
                 moved_to=moved_to)


def process_batch_size(batch_size: int, processes: int) -> int:
    """--batch-size is the global batch: each of `processes` processes takes an equal share,
    so N processes train exactly as one does (same batch, same learning rate)."""
    if batch_size % processes:
        lower = max(processes, batch_size - batch_size % processes)
        raise ConfigError(f"--batch-size {batch_size} cannot be split evenly over {processes} "
                          f"processes (--nproc {processes}); it is the global batch, so use a "
                          f"multiple of {processes}, e.g. {lower} or {lower + processes}")
    return batch_size // processes


def build_model(config: TrainConfig, data):
    """The model for `config` sized for `data`; a builder's refusal (e.g. images too small for
    VGG) becomes a ConfigError before any run directory exists, as does a model that does not
    read this kind of data (a CNN on a table)."""
    kind = data.input_kind
    if kind not in get_model_entry(config.model).inputs:
        words = {"image": "images", "features": "table rows", "series": "sequences of numbers",
                 "tokens": "sequences of symbols"}
        raise ConfigError(f"--model {config.model} does not read {words[kind]}, which "
                          f"--data {config.data} holds; models that do: "
                          f"{', '.join(list_models(kind))}")
    try:
        return create_model(config.model, in_channels=data.in_channels,
                            num_classes=data.num_classes, input_size=data.image_size,
                            **config.model_options)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"--model {config.model}: {error}") from error


def choose_cpu_precision(config: TrainConfig, data, model, optimizer, device, batch_size: int,
                         echo):
    """(precision, channels_last, choice): `--precision auto` on a CPU times the candidates on a
    batch of the run's own data (engine/precision_choice.py); elsewhere the Runner decides."""
    if config.precision == "auto" and data.input_kind != "image":
        # Tables and sequences are small and their recurrent layers gain nothing from bf16: fp32,
        # the courses' precision.
        return "fp32", None, None
    if config.precision != "auto" or device.type != "cpu":
        return config.precision, None, None
    choice = None
    if distributed.is_main_process():  # one process measures; the others take its answer
        n = min(batch_size, len(data.train))
        x = normalize(data.train.images[:n], data.mean, data.std)
        key = (f"{config.model} {json.dumps(config.model_options, sort_keys=True)} "
               f"input {list(x.shape[1:])} batch {n}")
        choice = choose_precision(model, x, data.train.labels[:n], F.cross_entropy, key,
                                  trim_taps=trims_taps(optimizer, device, config.compile,
                                                       config.clip_grad_norm))
        echo(choice.describe())
    choice = distributed.broadcast(choice)
    return choice.precision, choice.channels_last, choice


def avoid_single_image_batch(loader: TensorLoader, model, echo) -> None:
    """A BatchNorm layer that sees one value per channel (one image, after the feature map has
    shrunk to 1x1, as in ResNet-18's last block) cannot train: PyTorch stops with "Expected
    more than 1 value per channel". When an epoch would end with a batch of one image and the
    model fails on it (tried on a copy), that image is left out of each epoch (shuffled: a
    different one each time), and the run says so."""
    if loader.drop_last or loader.samples_per_process % loader.batch_size != 1 \
            or not fails_on_one_image(model, loader):
        return
    if loader.samples_per_process == 1:
        raise ConfigError("the training split has 1 image, and the model's BatchNorm layers "
                          "need at least 2 per batch; add images, or lower --dev-fraction")
    loader.drop_last = True
    echo(f"note: {loader.samples_per_process} training images in batches of "
         f"{loader.batch_size} leave one image for the last batch, which this model's BatchNorm "
         "layers cannot train on; each epoch leaves out that last (shuffled) image. Change "
         "--batch-size to use every image in every epoch.")


def fails_on_one_image(model, loader: TensorLoader) -> bool:
    """Whether a training-mode forward pass of a copy of `model` fails on a batch of one example."""
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return False
    x = loader.images[:1].cpu()
    if loader.normalise:  # uint8 images; tables and sequences are ready as they are
        x = scale_and_shift(x, loader.scale.cpu(), loader.shift.cpu())
    trial = copy.deepcopy(model).cpu().train()
    try:
        with torch.no_grad():
            trial(x)
    except ValueError as error:
        return "Expected more than 1 value per channel" in str(error)
    return False


def macs_per_image(config: TrainConfig, data) -> int | None:
    """Multiply-accumulates for one image (torchinfo, on a fresh CPU copy of the model); None
    rather than losing a finished run's results if counting fails."""
    try:
        return count_macs(build_model(config, data), (data.in_channels, *data.image_size),
                          data.input_kind)
    except Exception:
        return None


def kept_checkpoint(run_dir: Path, checkpointer: ResumeCheckpointer, good: str = "") -> str:
    """Which resume checkpoint survives a failed run, in words."""
    if checkpointer.last_saved_step is None:
        return "no checkpoint had been saved yet"
    return (f"{run_dir / RESUME} (step {checkpointer.last_saved_step}) is the last {good}"
            "checkpoint and was kept")


def refuse_settings_that_do_not_apply(config: TrainConfig, data) -> None:
    """Image-only settings on tables and sequences, label smoothing outside classification:
    one message naming every such setting and the flags that turn them all off (a recipe made
    for images can set several at once)."""
    reasons, fixes = [], []
    image_only = {}  # flag as set -> the flag that turns it off
    if config.augment != "none":
        image_only[f"--augment {config.augment}"] = "--augment none"
    if config.test_time_flip:
        image_only["--test-time-flip"] = "--no-test-time-flip"
    if data.input_kind != "image" and image_only:
        reasons.append(f"{' and '.join(image_only)} appl{'ies' if len(image_only) == 1 else 'y'} "
                       f"to images; --data {config.data} holds none")
        fixes += image_only.values()
    if config.label_smoothing and data.task != "classification":
        reasons.append(f"--label-smoothing {config.label_smoothing:g} applies to classification; "
                       f"--data {config.data} is a {data.task} task")
        fixes.append("--label-smoothing 0")
    if reasons:
        made_for = f" (--recipe {config.recipe} is made for classifying images)" if config.recipe else ""
        raise ConfigError(f"{'; '.join(reasons)}{made_for}. Add {' '.join(fixes)}")


def train(config: TrainConfig, echo=print, resume_dir: Path | None = None,
          allow_changed_data: bool = False, moved_to: str | None = None) -> TrainResult:
    """Train as `config` says; write and return the run directory and results.

    Everything that can refuse the settings (config, data, model, batch split) runs before the
    run directory is created, and a run that fails before its first step removes what it wrote,
    so a mistake never leaves a folder that blocks the next `--out`."""
    config.validate()
    if resume_dir is None:
        check_out_is_free(config.out)  # before the data load: a typo costs nothing
        # Saved with the data's absolute path, so the run's later commands work from any
        # directory. (--data-dir stays as typed: its default need not exist.)
        config = dataclasses.replace(config, data=absolute_data_spec(config.data))
    if config.tensorboard:
        check_tensorboard_installed()
    started = time.perf_counter()
    batch_size = process_batch_size(config.batch_size, distributed.world_size())
    seed_everything(config.seed, config.deterministic)
    device = distributed.setup(resolve_device(config.device))
    main = distributed.is_main_process()
    if not main:  # under torchrun, rank 0 alone speaks and writes the run directory
        echo = lambda *args, **kwargs: None
    data = dataset_for(with_data(config, moved_to))  # (moved_to: a resumed run's data moved)
    echo(data.describe())
    for note in data.notes:
        echo(f"note: {note}")
    model = build_model(config, data)
    refuse_settings_that_do_not_apply(config, data)
    load_starting_weights(model, config, echo)
    n_params = sum(p.numel() for p in model.parameters())

    train_loader = TensorLoader(data.train, batch_size, data.mean, data.std, shuffle=True,
                                augment=config.augment, seed=config.seed, device=device,
                                drop_last=config.drop_last, rank=distributed.rank(),
                                world_size=distributed.world_size())
    avoid_single_image_batch(train_loader, model, echo)
    if config.compile == "reduce-overhead" and device.type == "cuda" \
            and len(training_batch_sizes(train_loader)) > 1:
        echo("note: CUDA graphs (--compile reduce-overhead) were measured with --drop-last "
             "(one batch shape); with a smaller last batch they stopped on torch 2.11 with "
             "'accessing tensor output of CUDAGraphs that has been overwritten'. If this run "
             "stops with that message, add --drop-last.")
    has_dev = len(data.dev) > 0
    dev_loader = TensorLoader(data.dev, config.eval_batch_size, data.mean, data.std, device=device)
    test_loader = TensorLoader(data.test, config.eval_batch_size, data.mean, data.std,
                               device=device)
    if not has_dev:
        echo("note: no dev split (--dev-fraction 0): no evaluation during training; "
             f"{BEST} is the model at the end")
    if distributed.world_size() > 1:
        echo(f"{distributed.world_size()} processes, {batch_size} images each per step "
             f"(--batch-size {config.batch_size} is the global batch)")
    optimizer, scheduler = create_training_optimizer(config, model, len(train_loader), device)
    if config.fine_tune:
        echo(describe_fine_tune(config))
    loss_fn = loss_function(data.task, config.label_smoothing)
    stopper = StopAtStepBoundary()  # told its checkpointer and run directory in _run
    precision, channels_last, precision_choice = choose_cpu_precision(
        config, data, model, optimizer, device, batch_size, echo)
    runner = Runner(model, optimizer, loss_fn, create_metric(data.task), device=device,
                    scheduler=scheduler, precision=precision, channels_last=channels_last,
                    clip_grad_norm=config.clip_grad_norm,
                    callbacks=[*faults.from_environment(), stopper,
                               ConsoleLog(config.epochs, len(train_loader))],
                    checkpoint_metadata=checkpoint_metadata(config, data), course_log=False,
                    compile=config.compile, test_time_flip=config.test_time_flip,
                    cudnn_benchmark=config.cudnn_benchmark)
    for loader in (train_loader, dev_loader, test_loader):  # batches in the model's layout
        loader.channels_last = runner.channels_last

    created = False
    run_dir = resume_dir
    if run_dir is None:  # rank 0 names a new directory; the others learn its name
        made = new_run_dir(config.out, config.model, config.data) if main else (None, False)
        created = made[1]
        run_dir = Path(distributed.broadcast(str(made[0])))
    with RunLock(run_dir, "resume" if resume_dir else "train") if main else nullcontext():
        if main and resume_dir is None and (run_dir / "config.yaml").exists():
            raise RunDirError(f"{run_dir} already holds a run; choose another --out or delete it")
        try:
            return _run(config, data, runner, stopper, run_dir, train_loader, dev_loader,
                        test_loader, has_dev, n_params, main, echo, started, resume_dir,
                        allow_changed_data, device, precision_choice)
        except Exception:
            if main and resume_dir is None and runner.global_step == 0:
                remove_unstarted_run(run_dir, created)
            raise


def _run(config, data, runner, stopper, run_dir, train_loader, dev_loader, test_loader, has_dev,
         n_params, main, echo, started, resume_dir, allow_changed_data, device,
         precision_choice=None) -> TrainResult:
    """The part of `train` that runs inside the locked run directory."""
    if resume_dir is not None and main:
        removed = remove_temporary_files(run_dir)
        if removed:
            echo(f"removed {len(removed)} unfinished temporary file(s) left by the interrupted "
                 f"run: {', '.join(p.name for p in removed)}")
    if resume_dir is not None and not has_resume_checkpoint(run_dir) \
            and not (run_dir / "results.json").exists():
        # Stopped before its first checkpoint: nothing to continue from, so start it again.
        echo(f"{run_dir} has no resume checkpoint yet (it stopped before the first one); "
             "training it from the start")
        resume_dir = None
    if main and resume_dir is None:
        config.save(run_dir / "config.yaml")
        write_json(run_dir / SPLIT_RECORD, record_splits(data))
        if data.input_kind == "image":  # at most 50 images in one picture: about 0.1 s, once
            plot_samples(data.train.images, data.train.labels, data.class_names,
                         run_dir / SAMPLES, title=f"{run_dir.name}: training images of "
                         f"{config.data}")
        if data.problems or data.passed_over:  # the notes list a few; the file names all
            write_lines(run_dir / BAD_SAMPLES, data.problems + data.passed_over)
            what = [f"{len(data.problems)} left-out sample(s)"] if data.problems else []
            what += [f"{len(data.passed_over)} passed-over file(s)"] if data.passed_over else []
            echo(f"all {' and '.join(what)} are listed in {run_dir / BAD_SAMPLES}")
    elif main:
        changed = recorded_data_changes(run_dir, data)
        if changed and not allow_changed_data:
            raise ConfigError(f"the data {config.data} changed since {run_dir} started: "
                              f"{changed}; resuming would train on other images. Restore the "
                              "data, or add --force to resume anyway.")
    checkpointer = ResumeCheckpointer(run_dir, config.to_dict(), config.checkpoint_steps)
    stopper.checkpointer, stopper.run_dir = (checkpointer if main else None), run_dir
    metrics = MetricsWriter(run_dir / "metrics.csv", append=resume_dir is not None,
                            score_column=runner.score_column) if main else None
    if main:
        runner.callbacks[:0] = [metrics, checkpointer]
    if resume_dir is not None:
        state = load_resume_checkpoint(
            run_dir, echo, apply=lambda state: runner.load_training_state(state, train_loader))
        checkpointer.last_saved_step = state["global_step"]
        if main:
            metrics.keep_rows(len(runner.history))  # rows after that checkpoint come again
        echo(f"resuming {run_dir} at epoch {min(runner.epoch + 1, config.epochs)} of "
             f"{config.epochs}, after step {runner.global_step}")
    tensorboard = None
    if main and config.tensorboard:  # the same rows as metrics.csv, also as TensorBoard events
        tensorboard = TensorBoardLog(run_dir / TENSORBOARD_DIR, config.to_dict(),
                                     purge_step=runner.global_step if resume_dir else None)
        runner.callbacks.insert(runner.callbacks.index(metrics) + 1, tensorboard)
        echo(f"TensorBoard: tensorboard --logdir {run_dir / TENSORBOARD_DIR}")
    echo(f"model: {config.model} ({n_params:,} parameters) on {runner.device}, {runner.precision}"
         + (", channels_last" if runner.channels_last else ""))
    try:
        with stopper:
            runner.train(train_loader, faults.wrap_dev_loader(dev_loader) if has_dev else None,
                         num_epochs=config.epochs, log_steps=config.log_steps,
                         eval_steps=config.eval_steps if has_dev else 0,
                         eval_at_epoch_end=has_dev and config.eval_steps == 0,
                         save_path=run_dir / BEST)
            stopper.on_step_end(runner, train_loader)  # a signal after the last step's check
        runner.save_model(run_dir / LAST)
    except NonFiniteLossError as error:
        raise TrainingStopped(f"{error}\n{kept_checkpoint(run_dir, checkpointer, 'good ')}.") \
            from error
    except WriteError as error:
        raise WriteError(f"{error}\n{kept_checkpoint(run_dir, checkpointer)}; after that, "
                         f"continue with `trainlab train --resume {run_dir}`.") from error
    except RuntimeError as error:
        if config.deterministic and "does not have a deterministic implementation" in str(error):
            raise ConfigError(f"--deterministic: model {config.model!r} uses an operation with no "
                              f"deterministic version on {device.type}: {str(error).splitlines()[0]}"
                              " Train without --deterministic, or with --device cpu.") from error
        raise
    finally:
        if tensorboard is not None:  # what was logged reaches the disk however training ended
            tensorboard.close()

    runner.load_model(run_dir / BEST)
    test_accuracy, test_loss = runner.evaluate(test_loader)
    distributed.teardown()
    if not main:
        return TrainResult(run_dir, {"test_accuracy": test_accuracy, "test_loss": test_loss})
    plot_curves(read_metrics(run_dir / "metrics.csv"), run_dir / "curves.png",
                title=f"{run_dir.name}: {config.model} on {config.data}")
    column = runner.score_column
    results = {
        "task": data.task,
        "test_accuracy": test_accuracy if column == "accuracy" else None,
        "test_loss": test_loss,
        f"best_dev_{column}": runner.best_score if has_dev else None,
        **task_results(runner, test_loader, data),
        "final_train_loss": runner.train_epoch_losses[-1],
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "steps": runner.global_step,
        "train_seconds": round(runner.train_seconds, 3),
        "train_images_per_second": round(runner.train_images / max(runner.train_seconds, 1e-9), 1),
        "compile": config.compile,
        "compile_seconds": round(runner.compile_seconds, 3),
        "total_seconds": round(time.perf_counter() - started, 3),
        "parameters": n_params,
        "macs": macs_per_image(config, data),
        "model": config.model,
        "data": config.data,
        "data_sizes": {"train": len(data.train), "dev": len(data.dev), "test": len(data.test)},
        "data_notes": data.notes,
        "bad_samples_left_out": len(data.problems),
        "files_passed_over": len(data.passed_over),
        "bad_samples_file": BAD_SAMPLES if data.problems or data.passed_over else None,
        "device": str(runner.device),
        "processes": distributed.world_size(),
        "batch_size_per_process": train_loader.batch_size,
        "precision": runner.precision,
        "channels_last": runner.channels_last,
        # --precision auto on a CPU: what each candidate measured (None: forced, or not a CPU)
        "precision_choice": None if precision_choice is None else {
            "chosen": precision_choice.label, "cached": precision_choice.cached,
            "images_per_second": precision_choice.images_per_second},
        # weights that only ever multiply padding at this input size, left out of the optimizer
        # step (engine/tap_trimming.py; 0 where it does not apply, e.g. on a GPU or with Adam's
        # weight decay)
        "padding_only_weights_not_stepped": runner.padding_only_weights_not_stepped,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or platform.platform()}",
        "trainlab_version": __version__,
        "torch_version": torch.__version__,
    }
    write_json(run_dir / "results.json", results)
    write_task_pictures(runner, test_loader, data, run_dir)
    if not config.keep_resume:  # finished: the weights stay, the resume state is not needed
        remove_resume_checkpoints(run_dir)
    unit = "images" if data.input_kind == "image" else "examples"
    compiling = f", compiling {runner.compile_seconds:.1f} s" if config.compile != "none" else ""
    if has_dev:
        echo(f"best dev {column}: {runner.best_score:.4f}; training took "
             f"{runner.train_seconds:.1f} s ({results['train_images_per_second']:.0f} {unit}/s)"
             + compiling)
    else:
        echo(f"training took {runner.train_seconds:.1f} s "
             f"({results['train_images_per_second']:.0f} {unit}/s)" + compiling)
    echo(f"curves: {run_dir / 'curves.png'}   checkpoint: {run_dir / BEST}")
    if column == "accuracy":
        majority = results["test_majority_class_accuracy"]
        echo(f"test accuracy: {test_accuracy:.4f}" + ("" if data.input_kind == "image" else
             f" (always the most common class: {majority:.4f})"))
    else:
        echo(f"test MSE {results['test_mse']:.5g}, MAE {results['test_mae']:.5g}, "
             f"R^2 {results['test_r2']:.4f}")
    echo(f"run directory: {run_dir}")
    return TrainResult(run_dir, results)
