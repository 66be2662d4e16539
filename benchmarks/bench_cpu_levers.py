"""What each CPU speed lever gives on this machine, side by side: python benchmarks/bench_cpu_levers.py

For each model (ResNet-18 by default) at the courses' batch of 64 (`--batch`) on Fashion-MNIST,
every variant of trainlab's path trains in turns with the course-style loop of
bench_training.py: a few steps each, round after round, in alternating order, so that a shared
machine's changing speed falls on all of them alike. The variants: fp32 / bf16 autocast, each
with and without channels-last, each with and without the single-pixel convolutions
(engine/single_pixel.py), all with the fused optimizer `trainlab train` uses on a CPU (SGD, or
`--optimizer adam|adamw`; `--weight-decay` as the CLI's 5e-4, the course loop keeping none). It
steps only the single-pixel convolutions' in-image taps (engine/tap_trimming.py); the
auto-chosen layout also runs with PyTorch's default (for-loop) optimizer, and with whole kernels
stepped;
with --compile also the auto-chosen layout under torch.compile (its compile time printed apart).
Then torch.profiler's top rows for one training step in the layout `--precision auto` chose.

    make bench-levers                        # ResNet-18, about 2 minutes on 2 cores
    python benchmarks/bench_cpu_levers.py --model fastcnn --compile
    python benchmarks/bench_cpu_levers.py --model fastcnn --option widths=[16,48,96] --option pool_first=true
    python benchmarks/bench_cpu_levers.py --optimizer adam --batch 128 --no-profile
    python benchmarks/bench_cpu_levers.py --weight-decay 5e-4   # as `trainlab train` by default
    python benchmarks/bench_cpu_levers.py --rounds 1 --by-shape  # which tensors the time goes to

The figures decide which levers trainlab uses on a CPU kind (issue 12); run it on each kind.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
import bench_training as bench

from trainlab.cli.main import parse_model_options
from trainlab.data import create_dataset
from trainlab.engine.device import native_bf16
from trainlab.engine.precision_choice import Candidate, training_step
from trainlab.models import ModelOptionError, check_model_options, get_model_entry


def variants(name: str, data, with_compile: bool, optimizer: str, batch: int,
             weight_decay: float, options: dict) -> dict:
    """label -> a loop object with run(steps) -> (images, seconds); every loop trains `name`
    built with `options`, the course loop too."""
    loops = {"course loop (fp32, SGD)": bench.BaselineLoop(name, bench.torchvision_root(), batch,
                                                           options)}
    common = {"optimizer": optimizer, "batch": batch, "weight_decay": weight_decay,
              "options": options}
    auto = bench.TrainlabLoop(name, data, **common)
    loops[f"trainlab, precision auto: {auto.choice.label}"] = auto
    layout = (auto.choice.precision, auto.choice.channels_last)
    loops[f"trainlab {auto.choice.label} single-pixel, for-loop {optimizer} (not fused)"] = \
        bench.TrainlabLoop(name, data, layout, fused=False, **common)
    loops[f"trainlab {auto.choice.label} single-pixel, whole kernels stepped (taps not trimmed)"] = \
        bench.TrainlabLoop(name, data, layout, trim_taps=False, **common)
    precisions = ("fp32", "bf16") if native_bf16(torch.device("cpu")) else ("fp32",)
    for precision in precisions:
        for channels_last in (False, True):
            for single_pixel in (False, True):
                label = (f"trainlab {precision}{' channels-last' if channels_last else ''}"
                         f"{' single-pixel' if single_pixel else ''}")
                loops[label] = bench.TrainlabLoop(name, data, (precision, channels_last),
                                                  single_pixel, **common)
    if with_compile:
        started = time.perf_counter()
        loops[f"trainlab {auto.choice.label} single-pixel, torch.compile"] = \
            bench.TrainlabLoop(name, data, layout, compile="default", **common)
        print(f"torch.compile and its warm-up: {time.perf_counter() - started:.1f} s", flush=True)
    return loops


def in_turns(loops: dict, rounds: int, steps: int) -> dict:
    """label -> images/s over `rounds` rounds of `steps` steps each, the order reversed every
    other round."""
    totals = {label: [0, 0.0] for label in loops}
    for round_number in range(rounds):
        order = list(loops) if round_number % 2 == 0 else list(reversed(loops))
        for label in order:
            images, seconds = loops[label].run(steps)
            totals[label][0] += images
            totals[label][1] += seconds
    return {label: images / seconds for label, (images, seconds) in totals.items()}


def profile_rows(name: str, candidate: Candidate, batch: int, rows: int = 12,
                 by_shape: bool = False, options: dict | None = None) -> str:
    """torch.profiler's top rows (self CPU time) over five training steps of `name`, laid out
    as the Runner lays it out on this CPU (the calibration's own training step); by_shape:
    one row per operator and input shapes (which tensors the copies are, say)."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    model = bench.fashion_model(name, options)
    step = training_step(model, torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,)),
                         F.cross_entropy, candidate, trim_taps=True)  # SGD without weight decay
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=by_shape) as profiler:
        for _ in range(5):
            step()
    return profiler.key_averages(group_by_input_shape=by_shape).table(
        sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=40,
        max_shapes_column_width=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model(s) to measure (default resnet18)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a model option as `trainlab train --option` takes it, for every "
                             "--model (e.g. the CPU recipe's network: --model fastcnn --option "
                             "widths=[16,48,96] --option pool_first=true)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=10, help="steps per variant per round")
    parser.add_argument("--compile", action="store_true", help="also the torch.compile variant")
    parser.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="sgd",
                        help="trainlab's optimizer (the course loop keeps SGD)")
    parser.add_argument("--batch", type=int, default=bench.BATCH, help="batch size, both sides")
    parser.add_argument("--weight-decay", type=float, default=0.0,
                        help="trainlab's (the CLI's default is 5e-4; the course loop keeps none)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--by-shape", action="store_true",
                        help="profile rows per operator and input shapes")
    args = parser.parse_args()
    for flag in ("rounds", "steps", "batch"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    if args.weight_decay < 0:
        parser.error(f"--weight-decay must be 0 or more, got {args.weight_decay}")
    for name in args.model or []:
        try:
            get_model_entry(name)
        except KeyError as error:
            parser.error(f"--model: {error.args[0]}")
    try:
        options = parse_model_options(args.option)
        for name in args.model or ["resnet18"]:
            check_model_options(name, options)
    except (ValueError, ModelOptionError) as error:
        parser.error(str(error))
    if not (bench.DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
        print("needs Fashion-MNIST: apt-get install dataset-fashion-mnist", file=sys.stderr)
        return 2
    data = create_dataset("fashion-mnist")
    print(f"machine: {bench.machine()}")
    print(f"matmul 2048^3 peak: fp32 {bench.matmul_peak(torch.float32):.0f} GFLOP/s, "
          f"bf16 {bench.matmul_peak(torch.bfloat16):.0f} GFLOP/s", flush=True)
    for name in args.model or ["resnet18"]:
        loops = variants(name, data, args.compile, args.optimizer, args.batch, args.weight_decay,
                         options)
        rates = in_turns(loops, args.rounds, args.steps)
        course = rates["course loop (fp32, SGD)"]
        print(f"\n{name}{f' {options}' if options else ''}, batch {args.batch}, "
              f"{args.rounds} rounds of {args.steps} steps each, "
              f"trainlab's weight decay {args.weight_decay:g}\n")
        print("| loop | training images/s | vs the course loop |\n| --- | --- | --- |")
        for label, rate in rates.items():
            print(f"| {label} | {rate:,.0f} | {rate / course:.2f}x |")
        auto = next(loop for loop in loops.values() if getattr(loop, "choice", None))
        print(f"\n{auto.choice.describe()}", flush=True)
        if not args.no_profile:
            print(f"\ntorch.profiler, {name} in {auto.choice.label} (single-pixel), 5 steps:\n")
            print(profile_rows(name, Candidate(auto.choice.precision, auto.choice.channels_last),
                               args.batch, by_shape=args.by_shape, options=options))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # Ctrl-C: a benchmark writes nothing, so nothing is lost
        print("\ninterrupted: no figures (this benchmark writes no files)", file=sys.stderr)
        raise SystemExit(130) from None
