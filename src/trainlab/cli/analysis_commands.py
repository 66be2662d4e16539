"""`trainlab summary` and `trainlab compare`: parsing only; the work is in trainlab.analysis."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..analysis import compare_runs, summarize_model, summarize_run
from ..analysis.compare import default_out
from ..analysis.summary import input_kind
from ..models import ModelOptionError, is_known_model, list_models
from ..workflows import ConfigError


def add_analysis_commands(commands) -> None:
    """Register the subcommands on `commands` (build_parser's subparsers)."""
    summary = commands.add_parser(
        "summary", help="a model's layers with output shapes, parameters and MACs; totals",
        description="Per layer: name, type, output shape, parameters, MACs (for the batch); "
        "totals: trainable and frozen parameters, MACs and FLOPs (2 x MACs) per input and for "
        "the batch, parameter and activation memory. Counted by torchinfo.")
    summary.add_argument("target", metavar="MODEL_OR_RUN",
                         help="a name from `trainlab models`, or a run directory (its model at "
                         "its input size, from the best checkpoint's metadata)")
    summary.add_argument("--input", type=input_shape, default=None, metavar="CxHxW",
                         help="one input's shape (needed for a model name): 1x32x32 for an "
                         "image, 30 for a table row of 30 features, 1x10 for 10 steps of one "
                         "number, 60x12 for 12 symbols of a 60-symbol alphabet")
    summary.add_argument("--num-classes", type=positive_int, default=10, metavar="N",
                         help="outputs of the model (default: 10; a run knows its own)")
    summary.add_argument("--option", dest="model_options", action="append", default=[],
                         metavar="KEY=VALUE",
                         help="model option, repeatable, as for `trainlab train`")
    summary.add_argument("--batch", type=positive_int, default=1, metavar="B",
                         help="batch size for the shapes, MACs and activation memory (default: 1)")
    summary.add_argument("--json", action="store_true", help="print the summary as JSON")
    compare = commands.add_parser(
        "compare", help="runs side by side: a table (Markdown, CSV) and their curves overlaid",
        description="One table (model, data, parameters, MACs, best dev accuracy, test "
        "accuracy, training time, images/s, precision, device), printed and written as "
        "comparison.md and comparison.csv, and comparison.png with the runs' dev accuracy and "
        "loss curves overlaid. A figure a run lacks shows as '-'.")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    compare.add_argument("--out", default=None, metavar="DIR",
                         help="where to write the files (default: runs/compare-<time>)")


def input_shape(text: str) -> tuple[int, ...]:
    """argparse type: CxHxW (1x32x32) for images, F (30) for tables, FxT (1x10, 60x12) for
    sequences."""
    parts = text.lower().split("x")
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        shape = ()
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected channels x height x width such as 1x32x32 "
                                         "(or 30 for a table row, 1x10 for a sequence), got "
                                         f"{text!r}")
    return shape


SHAPES = {"image": "CxHxW, e.g. 1x32x32", "features": "the number of features, e.g. 30",
          "series": "FEATURESxSTEPS, e.g. 1x10", "tokens": "ALPHABETxSTEPS, e.g. 60x12"}


def check_input_shape(model: str, shape) -> None:
    """A --input of the length the model's kind of input needs, or one ConfigError."""
    kind = input_kind(model, shape)
    wanted = {"image": 3, "features": 1, "series": 2, "tokens": 2}[kind]
    if len(shape) != wanted:
        raise ConfigError(f"--input for {model} ({kind} input) is {SHAPES[kind]}; got "
                          f"{'x'.join(map(str, shape))}")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def command_summary(args) -> int:
    from .main import parse_model_options  # main imports this module

    if is_known_model(args.target):
        if args.input is None:
            raise ConfigError(f"--input is needed for a model name, e.g. trainlab summary "
                              f"{args.target} --input 1x32x32")
        options = parse_model_options(args.model_options)
        check_input_shape(args.target, args.input)
        try:
            summary = summarize_model(args.target, args.input, args.num_classes, options,
                                      args.batch)
        except (ModelOptionError, ValueError, TypeError) as error:
            raise ConfigError(f"{args.target}: {error}") from None
    elif Path(args.target).is_dir():
        if args.input is not None or args.model_options:
            raise ConfigError(f"{args.target} is a run: its model and input size come from its "
                              "checkpoint, so drop --input and --option")
        summary = summarize_run(args.target, args.batch)
    else:
        raise ConfigError(f"{args.target!r} is neither a model (`trainlab models`: "
                          f"{', '.join(list_models())}) nor a run directory")
    print(json.dumps(summary.to_dict(), indent=1) if args.json else summary.table())
    return 0


def command_compare(args) -> int:
    out = Path(args.out) if args.out else default_out()
    comparison = compare_runs(args.runs, out)
    print(comparison.markdown(), end="")
    print("wrote " + ", ".join(str(path) for path in comparison.files))
    return 0


HANDLERS = {"summary": command_summary, "compare": command_compare}
