"""On a CUDA GPU: trainlab's training loop against the plain loop, side by side in one process.

Both sides train the same model at the same batch size, precision (bf16 autocast) and memory
format (channels-last), with the data already on the GPU:
  raw       a hand-written loop: the whole normalised training set as one float tensor on the
            GPU, a random permutation per epoch, index, forward, loss, backward, SGD step;
  trainlab  create_dataset + TensorLoader + Runner, as `trainlab train` runs them (uint8 data on
            the GPU, normalised per batch, one-cycle LR schedule, loss and accuracy bookkeeping).
It prints training images/s and the ratio trainlab/raw, eager and with `torch.compile`
(compile time apart), then evaluation and prediction throughput, then the recipes' time to
accuracy (3 seeds each). Run by `make bench` / `make bench-full` when a GPU is present.
"""
from __future__ import annotations

import contextlib
import io
import os
import statistics
import time

import torch
import torch.nn.functional as F

from trainlab.data import TensorLoader, create_dataset
from trainlab.engine import Accuracy, Runner, create_optimizer, create_scheduler
from trainlab.models import create_model

ROWS = [("fastcnn", 256), ("fastcnn", 1024), ("resnet18", 256), ("resnet18", 1024)]
GOAL_RATIO = 0.85
# BENCH_DEVICE=cpu runs the same code on a CPU: a dry run of this script before a GPU session.
DEVICE = torch.device(os.environ.get("BENCH_DEVICE", "cuda"))


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def new_model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, in_channels=1, num_classes=10, input_size=(28, 28))


def raw_loop(name: str, batch: int, steps: int, data, compile_mode: str) -> tuple[float, float]:
    """(images/s, compile seconds) of the plain loop with the data on the GPU."""
    device = DEVICE
    torch.backends.cudnn.benchmark = True
    mean, std = torch.tensor(data.mean, device=device), torch.tensor(data.std, device=device)
    x_all = ((data.train.images.to(device).float() / 255 - mean.view(1, -1, 1, 1))
             / std.view(1, -1, 1, 1)).contiguous(memory_format=torch.channels_last)
    y_all = data.train.labels.to(device)
    model = new_model(name).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    step_model = model if compile_mode == "none" else torch.compile(model, mode=compile_mode,
                                                                    dynamic=False)

    def step(index):
        with torch.autocast(DEVICE.type, dtype=torch.bfloat16):
            loss = F.cross_entropy(step_model(x_all[index]), y_all[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    order = torch.randperm(len(y_all), device=device)
    started = time.perf_counter()
    for i in range(3):  # warm-up (and compile)
        step(order[i * batch:(i + 1) * batch])
    sync()
    compile_seconds = time.perf_counter() - started if compile_mode != "none" else 0.0
    started = time.perf_counter()
    for i in range(steps):
        j = i % (len(y_all) // batch)
        if j == 0:
            order = torch.randperm(len(y_all), device=device)
        step(order[j * batch:(j + 1) * batch])
    sync()
    return steps * batch / (time.perf_counter() - started), compile_seconds


def trainlab_loop(name: str, batch: int, steps: int, data, compile_mode: str):
    """(images/s, compile seconds, runner) of trainlab's Runner + TensorLoader path."""
    model = new_model(name)
    optimizer = create_optimizer("sgd", model.parameters(), lr=0.01, momentum=0.9,
                                 weight_decay=5e-4)
    n = steps * batch
    train = data.train.subset(torch.arange(n) % len(data.train))
    scheduler = create_scheduler("onecycle", optimizer, steps)
    runner = Runner(model, optimizer, F.cross_entropy, Accuracy(), device=DEVICE,
                    precision="bf16", scheduler=scheduler, progress=False, compile=compile_mode)
    make = lambda split: TensorLoader(split, batch, data.mean, data.std, shuffle=True,
                                      device=DEVICE, channels_last=True)
    with contextlib.redirect_stdout(io.StringIO()):
        warm = make(data.train.subset(torch.arange(3 * batch) % len(data.train)))
        runner.train(warm, num_epochs=1, log_steps=0, save_path="/tmp/trainlab-bench-warm.pt")
        runner.stopwatch.total, runner.train_images = 0.0, 0
        runner.train(make(train), num_epochs=1, log_steps=0, save_path="/tmp/trainlab-bench.pt")
    return runner.train_images / runner.train_seconds, runner.compile_seconds, runner


def evaluation_rates(runner: Runner, data) -> tuple[float, float, float]:
    """images/s: raw eval loop, Runner.evaluate (TensorLoader, batch 1000), Runner.predict."""
    device = DEVICE
    loader = TensorLoader(data.test, 1000, data.mean, data.std, device=DEVICE, channels_last=True)
    x = torch.cat([xb for xb, _ in loader])
    y = data.test.labels.to(device)
    model = runner.eval_model.eval()

    def raw():
        with torch.no_grad(), torch.autocast(DEVICE.type, dtype=torch.bfloat16):
            return sum((model(xb).argmax(1) == yb).sum() for xb, yb in
                       zip(x.split(1000), y.split(1000))).item()

    def timed(fn, repeats=3):
        fn()
        sync()
        started = time.perf_counter()
        for _ in range(repeats):
            fn()
        sync()
        return repeats * len(y) / (time.perf_counter() - started)

    predict = lambda: [runner.predict(xb).argmax(1) for xb in x.split(1000)][-1].sum().item()
    return timed(raw), timed(lambda: runner.evaluate(loader)), timed(predict)


def throughput_rows(data, steps_for, compile_modes=("none", "default"), rows=ROWS) -> list[str]:
    lines = ["| model | batch | compile | raw img/s | trainlab img/s | ratio | goal >= 0.85 | "
             "compile s (raw / trainlab) | eval raw img/s | eval trainlab img/s | predict img/s |",
             "|" + " --- |" * 11]
    print("\n".join(lines), flush=True)
    for name, batch in rows:
        for mode in compile_modes:
            torch._dynamo.reset()  # a fresh compile cache per row (dynamo stops at 8 recompiles)
            steps = steps_for(name, batch)
            try:
                raw, raw_compile = raw_loop(name, batch, steps, data, mode)
                ours, our_compile, runner = trainlab_loop(name, batch, steps, data, mode)
                eval_raw, eval_ours, predict = evaluation_rates(runner, data)
            except Exception as error:  # one failing row must not lose the others
                row = f"| {name} | {batch} | {mode} | failed: {type(error).__name__}: {error} |"
            else:
                ratio = ours / raw
                row = (f"| {name} | {batch} | {mode} | {raw:,.0f} | {ours:,.0f} | {ratio:.2f} | "
                       f"{'met' if ratio >= GOAL_RATIO else 'NOT met'} | "
                       f"{raw_compile:.1f} / {our_compile:.1f} | {eval_raw:,.0f} | "
                       f"{eval_ours:,.0f} | {predict:,.0f} |")
            lines.append(row)
            print(row, flush=True)
            if DEVICE.type == "cuda":
                torch.cuda.empty_cache()
    return lines


DRY_RUN: dict = {}  # e.g. {"limit_train": 2000, "epochs": 1} for a quick run on a CPU


def recipe_runs(recipe: str, seeds=(0, 1, 2), **overrides) -> list[dict]:
    """`trainlab train --recipe RECIPE --data fashion-mnist --seed S` for each seed, in process."""
    import shutil
    import tempfile

    from trainlab.workflows import build_config, train

    runs = []
    for seed in seeds:
        torch._dynamo.reset()  # each run compiles its own model, as a new process would
        out = tempfile.mkdtemp(prefix=f"trainlab-{recipe}-")
        shutil.rmtree(out)
        config = build_config(None, recipe=recipe, data="fashion-mnist", seed=seed, out=out,
                              log_steps=0, device=str(DEVICE), **{**overrides, **DRY_RUN})
        with contextlib.redirect_stdout(io.StringIO()), epoch_times() as seconds:
            runs.append(train(config, echo=lambda *a, **k: None).results)
        runs[-1]["epoch_seconds"] = [round(b - a, 3) for a, b in zip([0.0, *seconds], seconds)]
        shutil.rmtree(out, ignore_errors=True)
    return runs


@contextlib.contextmanager
def epoch_times():
    """The Runner's training seconds at each epoch end (where the first epoch's extra cost of
    a run shows: cuDNN's algorithm timing, first kernel loads)."""
    seconds: list[float] = []
    record = Runner._record

    def recording(runner, **row):
        if row.get("split") == "train":
            seconds.append(runner.stopwatch.total)
        return record(runner, **row)

    Runner._record = recording
    try:
        yield seconds
    finally:
        Runner._record = record


def describe_runs(label: str, runs: list[dict]) -> str:
    accs = [r["test_accuracy"] for r in runs]
    secs = [r["train_seconds"] for r in runs]
    comp = [r.get("compile_seconds", 0.0) for r in runs]
    spread = f" ± {statistics.stdev(accs):.4f}" if len(accs) > 1 else ""
    return (f"| {label} | {statistics.mean(accs):.4f}{spread} ({', '.join(f'{a:.4f}' for a in accs)}) "
            f"| {statistics.mean(secs):.2f} ({', '.join(f'{s:.2f}' for s in secs)}) | "
            f"{statistics.mean(comp):.1f} | {runs[0]['model']}, {runs[0]['epochs']} epochs, batch "
            f"{runs[0].get('batch_size', '?')}, {runs[0]['precision']}, compile "
            f"{runs[0].get('compile', 'none')} |")


def recipe_rows() -> list[str]:
    lines = ["| recipe (`trainlab train --recipe R --data fashion-mnist`, seeds 0-2) | test accuracy "
             "mean ± std | training s | compile s | settings |", "|" + " --- |" * 5]
    print("\n".join(lines), flush=True)
    for recipe in ("fast", "best"):
        row = describe_runs(recipe, recipe_runs(recipe))
        lines.append(row)
        print(row, flush=True)
    return lines


def gpu_name() -> str:
    if DEVICE.type != "cuda":
        return f"{DEVICE} (dry run); torch {torch.__version__}"
    props = torch.cuda.get_device_properties(0)
    return (f"{props.name}, {props.total_memory / 2**30:.0f} GiB; torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}")


def main(full: bool) -> list[str]:
    data = create_dataset("fashion-mnist")
    # About 2 epochs of Fashion-MNIST for the small model, fewer steps for ResNet-18.
    steps_for = lambda name, batch: (100_000 if full else 40_000) // batch
    lines = [f"GPU: {gpu_name()}", ""]
    print(lines[0], flush=True)
    lines += throughput_rows(data, steps_for)
    if full:
        lines.append("")
        lines += recipe_rows()
    return lines
