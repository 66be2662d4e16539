"""Issue 12's CPU figures from a GPU machine's host: python benchmarks/cpu_host_session.py OUT_DIR

The device machines' hosts are Intel Xeons with AMX, the CPU kind of CI's 2-core machines that
issue 12 measures on. A device session has minutes, so the CPU jobs run at once, side by side,
each on 2 logical CPUs of physical cores no other job uses (so no job shares a core's
hyperthreads), with the GPU hidden and 2 threads each. `--jobs` picks them from this menu
(default: bench+levers,fast-seed0,fast-seed1,fast-seed2,fastcnn-levers,resnet18-cli; a+b runs
b after a on the same cores; a job named twice runs twice, side by side):

    bench            make bench (bench_training.py, short mode): each model against the course loop
    levers           make bench-levers (bench_cpu_levers.py, `--levers-rounds` rounds): each lever
                     on ResNet-18, and a profile
    fastcnn-levers   the same for fastcnn (24-48-96, the recipe's network before) at batch 256
    fastcnn-compile  the same with the torch.compile variant, no profile
    fastcnn-shapes   bench_fastcnn_shapes.py: the recipe's network in other shapes, in turns
    levers-wd        levers with trainlab's weight decay 5e-4 (the CLI's), no profile
    fast-seed0..2    trainlab train --recipe fast --data fashion-mnist, one seed each (item 2)
    resnet18-cli     trainlab train --model resnet18 --data fashion-mnist --epochs 2 (README figure)

`--job NAME=COMMAND` (repeatable) adds a job of your own, e.g. a recipe with other options:
--job "old-s0={train} --recipe fast --seed 0 --option pool_first=false --out {runs}/old-s0", where
{python} is this Python, {train} the fast-seed jobs' `trainlab train` prefix and {runs} the run
folders' parent. Without --jobs, only the --job jobs run; name them in --jobs to mix.

Jobs that share a host's memory bandwidth and caches run slower than alone, so each job's
matmul peak is printed beside its figures; bench's and levers' ratios compare two loops
measured in turns inside one job, which the sharing weighs on alike. Each job's output goes to
OUT_DIR/<job>.log as it runs (characters other than letters, digits, ".", "_" and "-" made
"_"); jobs still running when `--budget` seconds have passed are stopped (their logs keep
what they printed). Jobs that find no free pair of cores are skipped.
Dry run on any machine: python benchmarks/cpu_host_session.py /tmp/dry --dry-run
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
PYTHON = sys.executable
RUNS = Path("/tmp/trainlab-cpu-host")  # the jobs' run folders and calibration caches


def job_menu(dry_run: bool, rounds: int, own: list[str]) -> dict[str, str]:
    """job name -> shell command, with `own` jobs (NAME=COMMAND) added. The dry run shortens the
    menu's jobs to seconds."""
    levers = f"{PYTHON} {HERE / 'bench_cpu_levers.py'} --rounds {1 if dry_run else rounds}"
    train = f"{PYTHON} -m trainlab train --data fashion-mnist --device cpu --log-steps 0" + \
        (" --limit-train 2000 --epochs 1" if dry_run else "")
    runs = RUNS
    menu = {"bench": f"{PYTHON} {HERE / 'bench_training.py'}",
            "levers": levers,
            "levers-wd": f"{levers} --weight-decay 5e-4 --no-profile",
            "fastcnn-levers": f"{levers} --model fastcnn --batch 256",
            "fastcnn-compile": f"{levers} --model fastcnn --batch 256 --compile --no-profile",
            "fastcnn-shapes": f"{PYTHON} {HERE / 'bench_fastcnn_shapes.py'}"
                              + (" --rounds 1 --seconds 0.05" if dry_run else "")}
    for seed in range(3):
        menu[f"fast-seed{seed}"] = f"{train} --recipe fast --seed {seed} --out {runs}/fast-seed{seed}"
    menu["resnet18-cli"] = f"{train} --model resnet18 {'' if dry_run else '--epochs 2'} " \
                           f"--out {runs}/resnet18"
    for job in own:
        name, _, command = job.partition("=")
        if not name or not command or any(c in name for c in ",+/ "):
            raise ValueError(f"--job {job!r}: give NAME=COMMAND, NAME without , + / or spaces")
        try:
            menu[name] = command.format(python=PYTHON, train=train, runs=runs)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"--job {job!r}: {error} is not one of {{python}}, {{train}}, "
                             "{runs} (write {{ and }} for braces)") from None
    return menu


DEFAULT_JOBS = "bench+levers,fast-seed0,fast-seed1,fast-seed2,fastcnn-levers,resnet18-cli"


def core_pairs() -> list[list[int]]:
    """Pairs of logical CPUs, each pair on two physical cores that no other pair touches."""
    by_core: dict[tuple[str, str], list[int]] = {}
    for cpu in sorted(os.sched_getaffinity(0)):
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            key = ((topology / "physical_package_id").read_text().strip(),
                   (topology / "core_id").read_text().strip())
        except OSError:
            key = ("?", str(cpu))
        by_core.setdefault(key, []).append(cpu)
    firsts = [threads[0] for threads in by_core.values()]  # one thread of each physical core
    return [firsts[i:i + 2] for i in range(0, len(firsts) - 1, 2)] or [firsts]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--budget", type=float, default=520, help="seconds before jobs stop")
    parser.add_argument("--dry-run", action="store_true", help="every job for seconds only")
    parser.add_argument("--jobs", help="comma-separated, in order of importance; a job may "
                        f"repeat (default: {DEFAULT_JOBS}, or the --job jobs where given)")
    parser.add_argument("--job", action="append", default=[], metavar="NAME=COMMAND",
                        help="a job of your own ({python}, {train}, {runs} filled in)")
    parser.add_argument("--levers-rounds", type=int, default=4)
    args = parser.parse_args()
    if args.levers_rounds < 1 or args.budget <= 0:
        parser.error("--levers-rounds must be at least 1 and --budget above 0")
    try:
        menu = job_menu(args.dry_run, args.levers_rounds, args.job)
    except ValueError as error:
        parser.error(str(error))
    jobs = args.jobs or ",".join(job.partition("=")[0] for job in args.job) or DEFAULT_JOBS
    commands = {}
    for number, job in enumerate(jobs.split(",")):
        if any(part not in menu for part in job.split("+")):
            parser.error(f"--jobs: unknown job {job!r}; choose from {', '.join(menu)} "
                         "(a+b: one after the other on the same cores)")
        name = job if job not in commands else f"{job}-{number}"
        commands[name] = "; ".join(menu[part] for part in job.split("+"))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"{out} is a file; give a folder for the logs")
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(RUNS, ignore_errors=True)  # this script's own run folders, from an earlier call
    pairs = core_pairs()
    print(subprocess.run(["lscpu"], capture_output=True, text=True).stdout, flush=True)
    print(f"core pairs on separate physical cores: {pairs}", flush=True)
    started = time.perf_counter()
    running = {}
    if args.dry_run:  # a small machine: the jobs share its cores
        pairs = [pairs[i % len(pairs)] for i in range(len(commands))]
    for name in list(commands)[len(pairs):]:
        print(f"skipped {name}: no free pair of physical cores", flush=True)
    for (name, command), cores in zip(commands.items(), pairs):
        # Each job calibrates `--precision auto` itself, on its own cores, into its own cache.
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "2",
               "TRAINLAB_CACHE_DIR": str(RUNS / f"cache-{name}")}
        # The device tool brings back only plain file names: "bench+fast-seed0" would stay behind.
        safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        log = open(out / f"{safe_name}.log", "w")  # noqa: SIM115 (the child writes to it)
        log.write(f"$ {command}  (CPUs {cores})\n")
        log.flush()
        running[name] = subprocess.Popen(["bash", "-c", command], stdout=log,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                         preexec_fn=lambda cores=cores: os.sched_setaffinity(0, cores))
        print(f"started {name} on CPUs {cores}", flush=True)
    try:
        for name, process in running.items():
            try:
                code = process.wait(timeout=max(1.0, args.budget - (time.perf_counter() - started)))
            except subprocess.TimeoutExpired:
                stop(process)
                code = "stopped by the budget"
            print(f"{name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
    except KeyboardInterrupt:  # Ctrl-C: no job keeps running on its own
        for process in running.values():
            stop(process)
        print(f"\ninterrupted: the jobs are stopped; what they printed is in {out}", file=sys.stderr)
        return 130
    return 0


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)  # bash and the python it started
        process.wait()


if __name__ == "__main__":
    raise SystemExit(main())
