"""One device-machine session, prepared to run once: python benchmarks/gpu_session.py OUT_DIR

Starts the offline test suite on CPU cores 8-15 in the background (GPU visible), runs the GPU
throughput benchmark and the recipe candidates on the other cores, and writes every figure to
OUT_DIR (session.log, results.json, pytest.log) as it goes, stopping each part before the
time budget (`--budget` seconds) runs out. Candidates are screened on seed 0; the best one that
meets the time goal is then run on seeds 1 and 2.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

# name -> (recipe, overrides, training-seconds goal, accuracy goal)
CANDIDATES = {
    "fast": [
        ("8ep-eager", {"epochs": 8, "compile": "none"}),
        ("10ep-eager", {"epochs": 10, "compile": "none"}),
    ],
    "best": [
        ("30ep", {"epochs": 30}),
    ],
}
GOALS = {"fast": (2.0, 0.930), "best": (10.0, 0.950)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--budget", type=float, default=540)
    parser.add_argument("--images", type=int, default=40_000, help="images per throughput row")
    parser.add_argument("--limit-train", type=int, default=None, help="dry runs: fewer images")
    parser.add_argument("--no-pytest", action="store_true")
    parser.add_argument("--recipes", default="fast,best")
    parser.add_argument("--recipes-only", action="store_true")
    parser.add_argument("--finalists", type=int, default=1, help="candidates run on 3 seeds")
    args = parser.parse_args()
    started = time.perf_counter()
    left = lambda: args.budget - (time.perf_counter() - started)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_file = open(out / "session.log", "a")  # noqa: SIM115 (open for the whole session)
    results: dict = {}

    def log(*parts):
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    def save():
        (out / "results.json").write_text(json.dumps(results, indent=1, default=str))

    env = dict(os.environ, OMP_NUM_THREADS="4")
    pytest = None if args.no_pytest else subprocess.Popen(
        ["taskset", "-c", "8-15", sys.executable, "-m", "pytest", "-q", "-m", "not integration",
         "-p", "no:cacheprovider"],
        stdout=open(out / "pytest.log", "w"), stderr=subprocess.STDOUT, env=env)  # noqa: SIM115
    if os.cpu_count() >= 16:
        os.sched_setaffinity(0, range(8))

    import bench_gpu
    import torch

    from trainlab.data import create_dataset

    log("GPU:", bench_gpu.gpu_name())
    data = create_dataset("fashion-mnist", limit_train=args.limit_train)
    if args.limit_train:
        bench_gpu.DRY_RUN.update(limit_train=args.limit_train, epochs=1)
    # The non-resident path (pinned host memory, non-blocking copies) gives the same batches.
    from trainlab.data import TensorLoader

    a = TensorLoader(data.test, 1000, data.mean, data.std, shuffle=True, augment="crop-flip",
                     device=bench_gpu.DEVICE, seed=3)
    b = TensorLoader(data.test, 1000, data.mean, data.std, shuffle=True, augment="crop-flip",
                     device=bench_gpu.DEVICE, seed=3, device_share=0.0)
    same = all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))
    results["pinned_path_equal"] = [a.resident, b.resident, same]
    log("resident / pinned loaders give equal batches:", results["pinned_path_equal"])

    steps = lambda name, batch: max(3, args.images // batch)
    if not args.recipes_only:
        results["throughput"] = bench_gpu.throughput_rows(data, steps, compile_modes=("none",))
        save()
    def run_recipe(recipe):
        seconds_goal, _accuracy_goal = GOALS[recipe]
        screened = []
        for label, overrides in CANDIDATES[recipe]:
            if left() < 30:
                log(f"skipping {recipe}/{label}: {left():.0f} s left")
                continue
            try:
                run = bench_gpu.recipe_runs(recipe, seeds=(0,), **overrides)
            except Exception as error:
                log(f"{recipe}/{label} failed: {type(error).__name__}: {error}")
                continue
            row = bench_gpu.describe_runs(f"{recipe}/{label} {overrides}", run)
            results.setdefault("screen", []).append({"recipe": recipe, "label": label,
                                                     "overrides": overrides, "runs": run})
            screened.append((label, overrides, run[0]))
            log(row)
            save()
        fitting = [c for c in screened if c[2]["train_seconds"] <= seconds_goal] or screened
        chosen = sorted(fitting, key=lambda c: -c[2]["test_accuracy"])[:args.finalists]
        for label, overrides, first in chosen:
            if left() < 30:
                return
            try:
                more = bench_gpu.recipe_runs(recipe, seeds=(1, 2), **overrides)
            except Exception as error:
                log(f"{recipe}/{label} seeds 1-2 failed: {type(error).__name__}: {error}")
                return
            row = bench_gpu.describe_runs(f"{recipe}/{label} {overrides} seeds 0-2",
                                          [first, *more])
            results.setdefault("chosen", []).append({"recipe": recipe, "label": label,
                                                     "overrides": overrides,
                                                     "runs": [first, *more]})
            log(row)
            save()

    recipes = args.recipes.split(",")
    if "fast" in recipes:
        run_recipe("fast")
    compiled_rows = [("fastcnn", 1024), ("fastcnn", 256), ("resnet18", 1024), ("resnet18", 256)]
    for row in [] if args.recipes_only else compiled_rows:
        if left() < 100:
            log(f"skipping compiled row {row}: {left():.0f} s left")
            continue
        results.setdefault("throughput_compiled", []).extend(bench_gpu.throughput_rows(
            data, steps, compile_modes=("default",), rows=[row]))
        save()
    if "best" in recipes:
        run_recipe("best")
    if pytest is None:
        return 0
    try:
        pytest.wait(timeout=max(1, left()))
    except subprocess.TimeoutExpired:
        pytest.kill()
        log("pytest did not finish within the budget")
    log("pytest exit code:", pytest.returncode)
    log((out / "pytest.log").read_text()[-3000:])
    results["pytest_returncode"] = pytest.returncode
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
