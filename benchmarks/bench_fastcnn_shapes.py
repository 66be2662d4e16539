"""Which shape of fastcnn trains fastest on this CPU, in turns: python benchmarks/bench_fastcnn_shapes.py

`--recipe fast` has a time budget (issue 12: 90 s of training on 2 cores), so its network's shape
is chosen by images/s as well as accuracy. Each shape below runs training steps (forward, loss,
backward, fused SGD, as `--precision auto` times them: engine/precision_choice.py) on one random
batch of 1x28x28 images, in bf16 channels-last and fp32 channels-last, the shapes taking turns
round after round (alternating order) so a shared machine's changing speed falls on all alike;
the fastest of each shape's timed windows counts. Ratios are against 24-48-96 without pool_first,
the recipe's network before issue 12. Accuracy is not measured here: see benchmarks/RESULTS.md
for the recipes' test accuracies, 3 seeds each.

    python benchmarks/bench_fastcnn_shapes.py                 # batch 256, 3 rounds, about 30 s on 2 cores
    python benchmarks/bench_fastcnn_shapes.py --batch 512 --rounds 5
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F

from trainlab.engine.device import native_bf16
from trainlab.engine.precision_choice import Candidate, cpu_name, training_step
from trainlab.models import create_model

# label -> fastcnn options; the first is the reference of the ratios.
SHAPES = {
    "24-48-96": {},
    "24-48-96 pool_first": {"pool_first": True},
    "16-48-96": {"widths": (16, 48, 96)},
    "16-48-96 pool_first (the recipe's)": {"widths": (16, 48, 96), "pool_first": True},
    "16-32-96 pool_first": {"widths": (16, 32, 96), "pool_first": True},
    "16-32-64 pool_first": {"widths": (16, 32, 64), "pool_first": True},
    "16-64-128 pool_first": {"widths": (16, 64, 128), "pool_first": True},
    "32-64-128 pool_first": {"widths": (32, 64, 128), "pool_first": True},
}


def timed_window(step, batch: int, seconds: float) -> float:
    """Images/s of at least 3 steps and `seconds` seconds."""
    started, done = time.perf_counter(), 0
    while done < 3 or time.perf_counter() - started < seconds:
        step()
        done += 1
    return done * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5, help="per shape per round")
    args = parser.parse_args()
    if args.batch < 2 or args.rounds < 1 or args.seconds <= 0:
        parser.error("--batch must be at least 2 (BatchNorm), --rounds at least 1, --seconds > 0")
    torch.manual_seed(0)
    x, y = torch.randn(args.batch, 1, 28, 28), torch.randint(0, 10, (args.batch,))
    layouts = [Candidate("bf16", True)] if native_bf16(torch.device("cpu")) else []
    layouts.append(Candidate("fp32", True))
    print(f"machine: {cpu_name()}, {torch.get_num_threads()} threads; torch {torch.__version__}; "
          f"batch {args.batch}, {args.rounds} rounds", flush=True)
    steps = {}
    for label, options in SHAPES.items():
        model = create_model("fastcnn", in_channels=1, num_classes=10, input_size=(28, 28),
                             **options)
        for layout in layouts:
            step = training_step(model, x, y, F.cross_entropy, layout)
            step()  # oneDNN prepares its kernels: not timed
            steps[label, layout.label] = step
    best: dict = {}
    for round_number in range(args.rounds):
        order = list(steps) if round_number % 2 == 0 else list(reversed(steps))
        for key in order:
            best[key] = max(best.get(key, 0.0), timed_window(steps[key], args.batch, args.seconds))
    reference = next(iter(SHAPES))
    print("\n| shape | layout | training img/s | against 24-48-96 |\n| --- | --- | --- | --- |")
    for (label, layout), rate in best.items():
        print(f"| {label} | {layout} | {rate:,.0f} | {rate / best[reference, layout]:.2f}x |")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C: a benchmark writes nothing, so nothing is lost
        print("\ninterrupted: no figures (this benchmark writes no files)", file=sys.stderr)
        raise SystemExit(130) from None
