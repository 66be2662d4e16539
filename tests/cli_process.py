"""Run the real `python -m trainlab` in a child process (optionally with a fault injected)."""
import os
import subprocess
import sys


def run_trainlab(*argv, fault=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != "TRAINLAB_FAULT"}
    if fault:
        env["TRAINLAB_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "trainlab", *map(str, argv)],
                          capture_output=True, text=True, env=env, timeout=timeout)
