"""Multi-process training on CPU (gloo): real processes started by torchrun."""
import json

import pytest
import torch
from safetensors.torch import load_file

from cli_process import run_trainlab as trainlab
from fake_data import make_image_folder

# No BatchNorm (its statistics are per process), fp32, no augmentation: --batch-size is the global
# batch, so two processes (8 images each) must compute what one process computes with batch 16.
# 64 training images: 4 steps an epoch.
COMMON = ["--device", "cpu", "--model", "mlp", "--option", "hidden=[32]", "--epochs", "2",
          "--limit-train", "64",
          "--precision", "fp32", "--lr", "0.1", "--log-steps", "1", "--checkpoint-steps", "3",
          "--seed", "5"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    make_image_folder(root / "data", classes=("a", "b", "c"), per_class=40, size=8)
    data = ["--data", f"folder:{root / 'data'}"]
    single = trainlab("train", *data, *COMMON, "--batch-size", "16", "--out", str(root / "one"))
    assert single.returncode == 0, single.stderr
    double = trainlab("train", *data, *COMMON, "--batch-size", "16", "--nproc", "2",
                      "--out", str(root / "two"))
    assert double.returncode == 0, double.stderr + double.stdout
    return root, data


def test_two_processes_with_batch_16_match_one_process_with_batch_16(runs):
    root, _ = runs
    one, two = load_file(root / "one" / "last.safetensors"), load_file(root / "two" / "last.safetensors")
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5)
    results = json.loads((root / "two" / "results.json").read_text())
    assert results["processes"] == 2 and results["batch_size_per_process"] == 8
    # The per-epoch training loss is reduced over both processes: it matches the single run's.
    rows = lambda run: [r.split(",") for r in (root / run / "metrics.csv").read_text().split()[1:]]
    train_losses = lambda run: [float(r[3]) for r in rows(run) if r[2] == "train"]
    assert train_losses("two") == pytest.approx(train_losses("one"), rel=1e-4)


def test_only_rank_zero_writes(runs):
    root, _ = runs
    text = (root / "two" / "metrics.csv").read_text()
    assert text.count("step,epoch,split") == 1
    assert {p.name for p in (root / "two").iterdir()} == {
        "best.safetensors", "config.yaml", "curves.png", "data-split.json", "last.safetensors",
        "metrics.csv", "results.json", "samples.png"}  # no temporary or per-rank files


def test_resume_under_ddp(runs):
    root, data = runs
    run = root / "killed"
    killed = trainlab("train", *data, *COMMON, "--batch-size", "16", "--nproc", "2",
                      "--out", str(run), fault="kill-at-step:4")
    assert killed.returncode != 0 and not (run / "results.json").exists()
    resumed = trainlab("train", "--resume", str(run), "--nproc", "2")
    assert resumed.returncode == 0, resumed.stderr
    ours, reference = load_file(run / "last.safetensors"), load_file(root / "two" / "last.safetensors")
    for key in reference:
        torch.testing.assert_close(ours[key], reference[key], rtol=0, atol=0)
    assert (run / "metrics.csv").read_bytes() == (root / "two" / "metrics.csv").read_bytes()


def test_batch_size_that_does_not_split_evenly_is_refused_before_starting(runs):
    root, data = runs
    refused = trainlab("train", *data, *COMMON, "--batch-size", "15", "--nproc", "2",
                       "--out", str(root / "uneven"))
    assert refused.returncode == 2
    assert "--batch-size 15 cannot be split evenly over 2 processes (--nproc 2); it is the " \
           "global batch, so use a multiple of 2, e.g. 14 or 16" in refused.stderr
    assert not (root / "uneven").exists()
