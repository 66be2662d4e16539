"""The command line. Argument parsing only: every command calls a library function."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from ..data import AUGMENTATIONS, BAD_SAMPLE_POLICIES, DataError, check_dataset, list_datasets
from ..engine import (
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    CheckpointError,
    DeviceError,
    WriteError,
    distributed,
    resolve_device,
)
from ..engine.compiling import COMPILE_MODES
from ..models import get_model_entry, list_models, model_options
from ..workflows import (
    RECIPES,
    ConfigError,
    RunDirError,
    TrainConfig,
    TrainingInterrupted,
    TrainingStopped,
    build_config,
    current_run_dir,
    evaluate_run,
    forget_current_run_dir,
    predict_files,
    process_batch_size,
    raise_terminated,
    resolve_run_dir,
    resume,
    train,
    write_predictions_csv,
)
from ..workflows.export import ExportError
from . import analysis_commands, text_commands
from .experiment_command import add_experiment_parser, command_experiment
from .plot_command import MOVED_DATA_HELP, add_plot_parser, command_plot
from .reuse_commands import (
    add_export_parser,
    add_transfer_arguments,
    command_export,
    print_torchvision_models,
)
from .serve_command import add_serve_parser, command_serve

DEFAULTS = TrainConfig()
# `trainlab demo` / `make demo`: ResNet-18 on the embedded digits. Measured on the 2-core AMD
# EPYC, seeds 0-2: test accuracy 0.986-0.989 in bf16 channels-last (33-34 s of training) and in
# fp32 (51-56 s). With lr 0.05 training blew up near the peak of the one-cycle schedule and
# recovered by chance: 0.961-0.997 over the same seeds and layouts.
DEMO = dict(model="resnet18", data="digits", epochs=20, batch_size=64, optimizer="sgd", lr=0.02,
            momentum=0.9, weight_decay=5e-4, schedule="onecycle", augment="crop")


def _default(key: str) -> str:
    return f" (default: {getattr(DEFAULTS, key)})"


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag defaults to SUPPRESS, so only what the user typed overrides --config."""
    S = argparse.SUPPRESS
    parser.add_argument("--config", default=None, metavar="YAML",
                        help="start from this YAML file (a run's config.yaml reproduces it)")
    parser.add_argument("--resume", default=None, metavar="RUN",
                        help="continue an interrupted run from its last checkpoint (flags that "
                        "would change the result, or changed data, are refused unless --force); "
                        "a finished run is left as it is")
    parser.add_argument("--force", action="store_true",
                        help="with --resume: accept changed settings or changed data")
    parser.add_argument("--nproc", type=whole_number(1), default=None, metavar="N",
                        help="train with N processes on this machine (DistributedDataParallel; "
                        "gloo on CPU, nccl on GPU, one GPU per process); runs `torchrun "
                        "--nproc-per-node=N -m trainlab train ...`. --batch-size stays the global "
                        "batch: each process takes 1/N of it (it must divide evenly), so the "
                        "result matches one process. For several machines run torchrun yourself "
                        "(see README)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default=S,
                        help="a named set of defaults, chosen for the device it trains on; "
                        "fast: fastcnn on Fashion-MNIST-sized images, 0.93 in 69-78 s on 2 AMX Xeon "
                        "cores (107-112 s on a 2-core AMD EPYC at half speed) or about 3.4 s on an "
                        "H200 GPU; best: a "
                        "wider fastcnn with crop+flip for the highest accuracy (see README for figures)")
    group = parser.add_argument_group("model")
    group.add_argument("--model", default=S, help="a name from `trainlab models`" + _default("model"))
    group.add_argument("--option", dest="model_options", action="append", default=S,
                       metavar="KEY=VALUE",
                       help="model option, repeatable, e.g. --option use_residual=false; "
                       "checked against the model's options and their types (`trainlab models`)")
    add_transfer_arguments(parser)
    group = parser.add_argument_group("data")
    group.add_argument("--data", default=S,
                       help="a name from `trainlab datasets`, folder:PATH, csv:PATH, "
                       "table:PATH or names:PATH" + _default("data"))
    group.add_argument("--data-dir", default=S, help="where data files live" + _default("data_dir"))
    group.add_argument("--target", default=S, metavar="COLUMN",
                       help="table:PATH: the target column, by header name or number from 1 "
                       "(default: the last column)")
    group.add_argument("--drop-column", dest="drop_columns", action="append", default=S,
                       metavar="COLUMN", help="table:PATH: leave this column out of the features "
                       "(an id, a text column), by header name or number from 1; repeatable")
    group.add_argument("--download", action="store_true", default=S,
                       help="download MNIST/Fashion-MNIST/CIFAR-10 if missing")
    group.add_argument("--image-size", type=int, default=S, metavar="S",
                       help="resize images to S x S (default: the data set's own size)")
    group.add_argument("--dev-fraction", type=float, default=S,
                       help="share of train held out for dev when there is no val split; 0: no "
                       "dev split, the model at the end is the best" + _default("dev_fraction"))
    group.add_argument("--limit-train", type=int, default=S, metavar="N",
                       help="train on the first N training images only (dev and test keep "
                       "their size; the sizes are printed)")
    group.add_argument("--limit-dev", type=int, default=S, metavar="N",
                       help="evaluate during training on the first N dev images only")
    group.add_argument("--limit-test", type=int, default=S, metavar="N",
                       help="score on the first N test images only (default: all)")
    group.add_argument("--permute-pixels", type=int, default=S, metavar="SEED",
                       help="shuffle every image's pixel positions by one fixed permutation "
                       "drawn from SEED (the courses' permuted-pixel experiment; predict applies it too)")
    group.add_argument("--augment", choices=AUGMENTATIONS, default=S,
                       help="augmentation preset" + _default("augment"))
    group.add_argument("--drop-last", action="store_true", default=S,
                       help="skip each epoch's last, smaller training batch (one batch shape: "
                       "on a GPU cuDNN tunes its algorithms once)")
    group.add_argument("--on-bad-sample", choices=BAD_SAMPLE_POLICIES, default=S,
                       help="error: stop before training, listing every bad image/row; skip: "
                       "leave them out (each reported)" + _default("on_bad_sample"))
    group.add_argument("--max-bad-fraction", type=float, default=S, metavar="F",
                       help="with skip: stop anyway above this share of bad samples"
                       + _default("max_bad_fraction"))
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=S, help=_default("epochs").strip())
    group.add_argument("--batch-size", type=int, default=S,
                       help="images per step, over all processes with --nproc"
                       + _default("batch_size"))
    group.add_argument("--eval-batch-size", type=int, default=S,
                       help=_default("eval_batch_size").strip())
    group.add_argument("--optimizer", choices=OPTIMIZERS, default=S,
                       help=_default("optimizer").strip())
    group.add_argument("--lr", type=float, default=S, help="learning rate" + _default("lr"))
    group.add_argument("--momentum", type=float, default=S, help="SGD momentum"
                       + _default("momentum"))
    group.add_argument("--weight-decay", type=float, default=S,
                       help=_default("weight_decay").strip()[1:-1] + "; on a CPU, SGD and "
                       "AdamW (Adam only with 0, the courses' setting) skip the weights that "
                       "only ever multiply padding, their decay applied when read (README)")
    group.add_argument("--schedule", choices=SCHEDULES, default=S,
                       help="LR schedule over all steps" + _default("schedule"))
    group.add_argument("--label-smoothing", type=float, default=S, metavar="EPS",
                       help="cross-entropy label smoothing" + _default("label_smoothing"))
    group.add_argument("--clip-grad-norm", type=float, default=S, metavar="MAX",
                       help="scale the gradients so that their joint norm is at most MAX "
                       "(gradient clipping, useful for recurrent networks)")
    group.add_argument("--seed", type=int, default=S, help=_default("seed").strip())
    group.add_argument("--device", default=S, help="auto, cpu, cuda, cuda:1, mps"
                       + _default("device"))
    group.add_argument("--precision", choices=("auto", *PRECISIONS), default=S,
                       help="autocast precision; auto: on a CPU the fastest of fp32, bf16 and "
                       "channels-last, measured on this model and batch (cached); on a GPU bf16 "
                       "where it has it" + _default("precision"))
    group.add_argument("--eval-steps", type=int, default=S,
                       help="evaluate every N steps (0: at the end of each epoch)")
    group.add_argument("--log-steps", type=int, default=S, help="print the loss every N steps"
                       + _default("log_steps"))
    group.add_argument("--checkpoint-steps", type=int, default=S, metavar="N",
                       help="save a resume checkpoint every N steps, and at each epoch end "
                       "(0: at epoch ends only)" + _default("checkpoint_steps"))
    group.add_argument("--keep-resume", action="store_true", default=S,
                       help="keep resume.pt and resume-prev.pt when the run finishes (by "
                       "default they are removed; best and last weights always stay)")
    group.add_argument("--compile", nargs="?", const="default", choices=COMPILE_MODES,
                       default=S, metavar="MODE",
                       help="compile the training step with torch.compile (MODE: default, "
                       "reduce-overhead = CUDA graphs, max-autotune; none = eager); the compile "
                       "time is reported apart from the training time. On one H100, "
                       "reduce-overhead --drop-last trained fastcnn 1.4-1.6x as fast as eager"
                       + _default("compile"))
    group.add_argument("--test-time-flip", action=argparse.BooleanOptionalAction, default=S,
                       help="evaluate and predict on each image and its mirror image, averaging "
                       "the two (for data where a mirrored image keeps its class; the recipes "
                       "turn it on, --no-test-time-flip off)" + _default("test_time_flip"))
    group.add_argument("--deterministic", action="store_true", default=S,
                       help="use PyTorch's deterministic algorithms (same result every time, "
                       "also on GPUs; slower)")
    group.add_argument("--cudnn-benchmark", action=argparse.BooleanOptionalAction, default=S,
                       help="on a GPU, time cuDNN's convolution algorithms on the first batch of "
                       "each shape and keep the fastest (costs seconds once; --no-cudnn-benchmark: "
                       "cuDNN's own heuristics)" + _default("cudnn_benchmark"))
    group.add_argument("--tensorboard", action="store_true", default=S,
                       help="also write TensorBoard events to RUN/tensorboard/ (losses, dev "
                       "accuracy, learning rate, images/s, the settings as hparams); needs pip "
                       "install 'trainlab[tensorboard]'")
    group.add_argument("--out", default=S, metavar="DIR",
                       help="run directory, new or empty (default: runs/<model>-<data>-<time>)")


def parse_model_options(items: list[str]) -> dict:
    """KEY=VALUE strings; the values stay text until the config checks them against the model's
    option types (so `use_residual=maybe` is refused rather than read as YAML)."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {item!r}: expected KEY=VALUE, e.g. use_residual=false")
        options[key.strip()] = value.strip()
    return options


CHECKPOINT_HELP = ("best (default) or last: the run's own weights; or the path of a "
                   ".safetensors checkpoint, relative to the working directory")


def whole_number(low: int):
    """argparse type: an int >= low; argparse's error then names the flag."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trainlab",
        description="Train, evaluate, summarise, compare and use classic neural networks on image "
                    "data sets.",
        epilog="Start with `trainlab demo`, then e.g. `trainlab train --model cnn --data "
               "fashion-mnist --epochs 5`.")
    parser.add_argument("--debug", action="store_true",
                        help="on an unexpected error, show the full traceback instead of saving "
                        "it to a log file")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("datasets", help="list the data sets")
    commands.add_parser("models", help="list the models and their options")
    train_parser = commands.add_parser("train", help="train a model; writes a run directory")
    add_train_arguments(train_parser)
    demo = commands.add_parser("demo", help="train ResNet-18 on the embedded digits (what "
                               "`make demo` runs)")
    demo.add_argument("--out", default=None, metavar="DIR", help="run directory")
    demo.add_argument("--device", default="auto")
    check = commands.add_parser("check-data", help="scan a data set and list every problem "
                                "(unreadable images, bad label rows, empty classes)")
    check.add_argument("data", help="a name from `trainlab datasets`, folder:PATH, csv:PATH, "
                       "table:PATH or names:PATH")
    check.add_argument("--data-dir", default="data",
                       help="where data files live (default: data)")
    check.add_argument("--image-size", type=whole_number(1), default=None, metavar="S",
                       help="resize images to S x S, as training would")
    check.add_argument("--target", default=None, metavar="COLUMN",
                       help="table:PATH: the target column, as train takes it")
    check.add_argument("--drop-column", dest="drop_columns", action="append", default=None,
                       metavar="COLUMN", help="table:PATH: a column left out, as train takes it; "
                       "repeatable")
    evaluate = commands.add_parser("evaluate", help="score a run's best checkpoint: accuracy, "
                                   "loss, per-class accuracy, confusion matrix, most confused "
                                   "pairs, the most confidently wrong images")
    evaluate.add_argument("run", help="run directory")
    evaluate.add_argument("--split", default="test", choices=("test", "dev", "train"))
    evaluate.add_argument("--checkpoint", default=None, metavar="best|last|FILE",
                          help=CHECKPOINT_HELP + "; another file must come from the same model, "
                          "options, data and classes as the run. Files for last or a file are "
                          "named SPLIT-last or SPLIT-file-STEM (evaluation-test-last.json, ...)")
    evaluate.add_argument("--allow-changed-data", action="store_true",
                          help="score the data as it is now even if it no longer holds the "
                          "images the run recorded (e.g. trained-on images now in test); the "
                          "report then says what changed")
    evaluate.add_argument("--data", default=None, metavar="SPEC", help=MOVED_DATA_HELP)
    evaluate.add_argument("--device", default="auto")
    predict = commands.add_parser("predict", help="classify image files or folders with a run, "
                                  "an exported bundle or an ONNX file")
    predict.add_argument("run", metavar="MODEL", help="a run directory, a bundle folder or an "
                         ".onnx file with its model.json beside it (`trainlab export`)")
    predict.add_argument("inputs", nargs="*", metavar="IMAGE_OR_FOLDER")
    predict.add_argument("--top-k", type=whole_number(1), default=3, metavar="K",
                         help="show the K most probable classes (default: 3)")
    predict.add_argument("--csv", default=None, metavar="OUT.csv", help="also write a CSV")
    predict.add_argument("--checkpoint", default=None, metavar="best|last|FILE",
                         help=CHECKPOINT_HELP)
    predict.add_argument("--device", default="auto")
    text_commands.add_text_argument(predict)
    text_commands.add_make_names_parser(commands)
    analysis_commands.add_analysis_commands(commands)
    add_plot_parser(commands)
    add_serve_parser(commands)
    add_export_parser(commands)
    add_experiment_parser(commands)
    return parser


def command_datasets(args) -> int:
    for entry in list_datasets():
        name = entry.name + (":PATH" if entry.takes_path else "")
        print(f"{name:<16} {entry.summary}")
    return 0


def command_models(args) -> int:
    for name in list_models():
        options = ", ".join(f"{k}={v!r}" for k, v in model_options(name).items())
        print(f"{name:<12} {get_model_entry(name).summary}" + (f"  [{options}]" if options else ""))
    print_torchvision_models()
    return 0


def relaunch_with_torchrun(nproc: int, argv: list[str]) -> int:
    """`trainlab train --nproc N ...` is `torchrun --nproc_per_node=N -m trainlab train ...`."""
    rest, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            rest.append(item)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "trainlab", *rest]
    return subprocess.run(command).returncode


def command_train(args) -> int:
    given = {k: v for k, v in vars(args).items()
             if k not in ("command", "config", "resume", "force", "nproc", "argv", "debug")}
    if "model_options" in given:
        given["model_options"] = parse_model_options(given["model_options"])
    if args.resume and args.config:
        raise ConfigError("--resume takes its settings from the run; drop --config")
    if args.nproc and args.nproc > 1 and distributed.world_size() == 1:
        # Refuse what the processes would refuse before starting them: one message, not N.
        config = build_config(resolve_run_dir(args.resume) / "config.yaml" if args.resume
                              else args.config, **given)
        process_batch_size(config.batch_size, args.nproc)
        distributed.check_gpu_count(args.nproc, resolve_device(given.get("device")
                                                               or config.device))
        return relaunch_with_torchrun(args.nproc, args.argv)
    if args.resume:
        resume(args.resume, force=args.force, **given)
    else:
        train(build_config(args.config, **given))
    return 0


def command_demo(args) -> int:
    train(build_config(None, **DEMO, out=args.out, device=args.device))
    return 0


def command_check_data(args) -> int:
    check = check_dataset(args.data, args.data_dir, args.image_size, args.target,
                          args.drop_columns or ())
    print(check.summary)
    for note in check.notes:
        print(f"note: {note}")
    for line in check.passed_over:
        print(line)
    for problem in check.problems:
        print(problem)
    print(check.advice())
    return 1 if check.problems else 0


def command_evaluate(args) -> int:
    evaluate_run(args.run, split=args.split, checkpoint=args.checkpoint, device=args.device,
                 allow_changed_data=args.allow_changed_data, data=args.data)
    return 0


def command_predict(args) -> int:
    if args.text or args.table:
        return (text_commands.command_predict_text if args.text
                else text_commands.command_predict_table)(args)
    if not args.inputs:
        raise ConfigError("give image files or folders to predict, --text WORD or --table FILE")
    passed_over: list[str] = []
    predictions, problems = predict_files(args.run, args.inputs, top_k=args.top_k,
                                          checkpoint=args.checkpoint, device=args.device,
                                          passed_over=passed_over)
    for p in predictions:
        ranked = ", ".join(f"{name} {prob:.3f}" for name, prob in zip(p.classes, p.probabilities))
        print(f"{p.path}: {ranked}")
    if args.csv:
        write_predictions_csv(predictions, args.csv)
        print(f"wrote {len(predictions)} prediction(s) to {args.csv}")
    for line in passed_over:
        print(f"skipped {line}", file=sys.stderr)
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    if passed_over or problems:
        print(f"predicted {len(predictions)} image(s); skipped {len(passed_over) + len(problems)} "
              "input(s), listed above", file=sys.stderr)
    return 1 if problems else 0


HANDLERS = {"datasets": command_datasets, "models": command_models, "train": command_train,
            "demo": command_demo, "check-data": command_check_data,
            "evaluate": command_evaluate, "predict": command_predict, "plot": command_plot,
            "serve": command_serve,
            "export": command_export,
            "experiment": command_experiment,
            **analysis_commands.HANDLERS, **text_commands.HANDLERS}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    forget_current_run_dir()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_sigterm = signal.signal(signal.SIGTERM, raise_terminated) if in_main_thread else None
    try:
        code = HANDLERS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's exit-time flush
        return code
    except (DataError, ConfigError, CheckpointError, RunDirError, DeviceError,
            WriteError, ExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingInterrupted as error:
        print(error, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as error:  # Ctrl-C or SIGTERM outside the training loop
        run_dir = current_run_dir()
        hint = (f"; continue with `trainlab train --resume {run_dir}`"
                if args.command in ("train", "demo") and run_dir is not None
                and (run_dir / "config.yaml").exists() else "")
        print(f"interrupted{hint}", file=sys.stderr)
        return 128 + getattr(error, "signum", signal.SIGINT)
    except TrainingStopped as error:
        print(f"training stopped: {error}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # `trainlab evaluate RUN | head`: the reader has gone; so do we
        return quiet_broken_pipe()
    except Exception as error:
        if args.debug:
            raise
        print(f"error: {type(error).__name__}: {error}\n"
              f"This is a bug or an unexpected situation; the full traceback is in "
              f"{save_traceback(error)} (or run again with `trainlab --debug ...` to see it).",
              file=sys.stderr)
        return 1
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)


def quiet_broken_pipe() -> int:
    """Exit like a Unix tool whose output pipe closed: no message, status 128 + SIGPIPE."""
    try:  # Python flushes stdout again at exit; point it at /dev/null so that flush is silent
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 128 + getattr(signal, "SIGPIPE", 13)


def save_traceback(error: BaseException) -> Path:
    """Write `error`'s traceback to error.log in the run directory this command worked on (if
    any, and writable), else to a file in the temporary directory; return where it went."""
    text = (f"trainlab {' '.join(sys.argv[1:])}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n"
            + "".join(traceback.format_exception(type(error), error, error.__traceback__)))
    run_dir = current_run_dir()
    if run_dir is not None:
        try:
            path = run_dir / "error.log"
            with open(path, "a") as handle:
                handle.write(text + "\n")
            return path
        except OSError:
            pass
    handle, name = tempfile.mkstemp(prefix="trainlab-error-", suffix=".log")
    with os.fdopen(handle, "w") as file:
        file.write(text)
    return Path(name)
