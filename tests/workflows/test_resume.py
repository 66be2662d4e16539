"""Interrupted training resumes exactly: real processes, killed with SIGKILL at fixed points."""
import json
import shutil
import signal

import pytest
import torch
from safetensors.torch import load_file

from cli_process import run_trainlab as trainlab
from fake_data import make_image_folder

# BatchNorm (running statistics), random crops and flips (the loader's generator), bf16 where the
# CPU has it, a one-cycle schedule: everything a resume has to restore.
ARGS = ["--device", "cpu", "--model", "fastcnn", "--option", "widths=[4,8,8]", "--epochs", "3",
        "--batch-size", "4",
        "--eval-batch-size", "3", "--augment", "crop-flip", "--lr", "0.05", "--log-steps", "5",
        "--checkpoint-steps", "4", "--seed", "3"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    make_image_folder(root / "data", classes=("a", "b", "c"), per_class=30, size=12)
    data = ["--data", f"folder:{root / 'data'}"]
    reference = root / "reference"
    done = trainlab("train", *data, *ARGS, "--out", str(reference))
    assert done.returncode == 0, done.stderr
    return root, data, reference


def assert_same_run(run, reference):
    # The promise is an identical file: bytes, line endings included.
    assert (run / "metrics.csv").read_bytes() == (reference / "metrics.csv").read_bytes()
    for name in ("last.safetensors", "best.safetensors"):
        ours, theirs = load_file(run / name), load_file(reference / name)
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert torch.equal(ours[key], theirs[key]), f"{name}:{key} differs"
    results = [json.loads((r / "results.json").read_text()) for r in (run, reference)]
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]


@pytest.mark.parametrize("fault", ["kill-at-step:21", "kill-in-eval:2"])
def test_sigkill_then_resume_matches_uninterrupted_run(setup, fault):
    root, data, reference = setup
    run = root / fault.replace(":", "-")
    killed = trainlab("train", *data, *ARGS, "--out", str(run), fault=fault)
    assert killed.returncode == -signal.SIGKILL
    assert (run / "resume.pt").exists() and not (run / "results.json").exists()
    resumed = trainlab("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    assert_same_run(run, reference)


def test_same_seed_twice_is_bitwise_identical(setup):
    root, data, reference = setup
    again = root / "again"
    assert trainlab("train", *data, *ARGS, "--out", str(again)).returncode == 0
    assert_same_run(again, reference)


def test_truncated_checkpoint_falls_back_to_the_previous_one(setup):
    root, data, reference = setup
    run = root / "truncated"
    assert trainlab("train", *data, *ARGS, "--out", str(run),
                    fault="kill-at-step:30").returncode == -signal.SIGKILL
    latest = run / "resume.pt"
    latest.write_bytes(latest.read_bytes()[:1000])
    resumed = trainlab("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert "resume.pt is not a readable resume checkpoint" in resumed.stdout
    assert "falling back to" in resumed.stdout and "resume-prev.pt" in resumed.stdout
    assert_same_run(run, reference)


def test_resume_with_changed_settings_is_refused_unless_forced(setup):
    root, data, _ = setup
    run = root / "changed-settings"
    assert trainlab("train", *data, *ARGS, "--out", str(run),
                    fault="kill-at-step:30").returncode == -signal.SIGKILL
    before = (run / "metrics.csv").read_bytes()
    again = trainlab("train", *data, *ARGS, "--out", str(run))  # the same command again
    assert again.returncode == 2
    assert f"holds a run that stopped before its end: `trainlab train --resume {run}`" in again.stderr
    refused = trainlab("train", "--resume", str(run), "--batch-size", "8", "--data", "digits",
                       "--option", "widths=[4,8,16]")
    assert refused.returncode == 2
    for change in ("batch_size: 4 -> 8", "data: 'folder:", "-> 'digits'",
                   "model_options: {'widths': [4, 8, 8]} -> {'widths': [4, 8, 16]}"):
        assert change in refused.stderr
    assert "--force" in refused.stderr
    assert (run / "metrics.csv").read_bytes() == before
    allowed = trainlab("train", "--resume", str(run), "--log-steps", "1")  # harmless change
    assert allowed.returncode == 0, allowed.stderr


def snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_resume_of_a_finished_run_says_so_and_changes_nothing(setup):
    _, _, reference = setup
    before = snapshot(reference)
    done = trainlab("train", "--resume", str(reference))
    assert done.returncode == 0, done.stderr
    assert f"{reference} already finished its 3 epoch(s)" in done.stdout
    assert f"trainlab train --config {reference / 'config.yaml'} --epochs N --out NEW_DIR" \
        in done.stdout
    longer = trainlab("train", "--resume", str(reference), "--epochs", "5")
    assert longer.returncode == 2 and "already finished" in longer.stderr
    assert "epochs: 3 -> 5" in longer.stderr
    assert snapshot(reference) == before


def test_finished_run_keeps_weights_not_resume_files_and_permissions_follow_umask(setup):
    root, data, reference = setup
    names = {p.name for p in reference.iterdir()}
    assert {"best.safetensors", "last.safetensors"} <= names
    assert not names & {"resume.pt", "resume-prev.pt"}
    mode = lambda path: path.stat().st_mode & 0o777
    for name in ("best.safetensors", "last.safetensors", "metrics.csv"):
        assert mode(reference / name) == mode(reference / "config.yaml"), name
    kept = root / "keep"
    assert trainlab("train", *data, *ARGS, "--epochs", "1", "--keep-resume",
                    "--out", str(kept)).returncode == 0
    assert (kept / "resume.pt").is_file()
    assert mode(kept / "resume.pt") == mode(kept / "config.yaml")


def test_checkpoint_steps_zero_saves_at_epoch_ends_only(setup):
    root, data, _ = setup
    run = root / "epoch-ends"
    killed = trainlab("train", *data, *ARGS, "--checkpoint-steps", "0", "--out", str(run),
                      fault="kill-at-step:21")  # 17 steps an epoch: in the second epoch
    assert killed.returncode == -signal.SIGKILL
    assert torch.load(run / "resume.pt", weights_only=True)["global_step"] == 17
    assert not (run / "resume-prev.pt").exists()


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(setup):
    root, data, _ = setup
    run = root / "nan"
    stopped = trainlab("train", *data, *ARGS, "--out", str(run), fault="nan-at-step:9")
    assert stopped.returncode == 3
    assert "the loss became nan at step 11 (epoch 1)" in stopped.stderr
    assert "last good checkpoint" in stopped.stderr and "step 8" in stopped.stderr
    state = torch.load(run / "resume.pt", weights_only=True)
    assert state["global_step"] == 8
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_deterministic_flag_trains(setup):
    root, data, _ = setup
    done = trainlab("train", *data, *ARGS, "--epochs", "1", "--deterministic",
                    "--out", str(root / "det"))
    assert done.returncode == 0, done.stderr


def test_nan_after_resume_names_the_checkpoint_it_resumed_from(setup):
    root, data, _ = setup
    run = root / "nan-after-resume"
    assert trainlab("train", *data, *ARGS, "--out", str(run),
                    fault="kill-at-step:21").returncode == -signal.SIGKILL
    stopped = trainlab("train", "--resume", str(run), fault="nan-at-step:21")
    assert stopped.returncode == 3
    assert "at step 23" in stopped.stderr and "(step 20) is the last good checkpoint" in stopped.stderr
    assert torch.load(run / "resume.pt", weights_only=True)["global_step"] == 20


# SIGTERM at step 2 also comes before the first periodic checkpoint (--checkpoint-steps 4).
@pytest.mark.parametrize("fault,code,step", [("sigint-at-step:21", 130, 22),
                                             ("sigterm-at-step:1", 143, 2)])
def test_signal_stops_at_the_step_boundary_saves_and_resumes_exactly(setup, fault, code, step):
    root, data, reference = setup
    run = root / fault.replace(":", "-")
    stopped = trainlab("train", *data, *ARGS, "--out", str(run), fault=fault)
    assert stopped.returncode == code, stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] == \
        f"interrupted at step {step}; continue with `trainlab train --resume {run}`"
    assert "Traceback" not in stopped.stderr
    assert torch.load(run / "resume.pt", weights_only=True)["global_step"] == step
    assert not list(run.glob(".*.tmp")) and not (run / "results.json").exists()
    (run / ".resume.pt.x1y2.tmp").write_bytes(b"half a checkpoint")  # what SIGKILL mid-save leaves
    resumed = trainlab("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert "removed 1 unfinished temporary file(s)" in resumed.stdout
    assert not list(run.glob(".*.tmp"))
    assert_same_run(run, reference)


def test_resume_of_a_run_killed_before_any_checkpoint_starts_it_again(setup):
    root, data, reference = setup
    run = root / "early-kill"
    killed = trainlab("train", *data, *ARGS, "--out", str(run), fault="kill-at-step:1")
    assert killed.returncode == -signal.SIGKILL and not (run / "resume.pt").exists()
    resumed = trainlab("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert "has no resume checkpoint yet" in resumed.stdout
    assert_same_run(run, reference)


def killed_run_resumes_exactly(root, data, args, name: str, fault: str, code=-signal.SIGKILL):
    """Train `args` whole, and again killed by `fault` (exit status `code`) then resumed: the
    same run. Returns the whole run's folder."""
    reference = root / f"{name}-reference"
    assert trainlab("train", *data, *args, "--out", str(reference)).returncode == 0
    run = root / f"{name}-killed"
    killed = trainlab("train", *data, *args, "--out", str(run), fault=fault)
    assert killed.returncode == code
    resumed = trainlab("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run, reference)
    return reference


def test_compiled_run_killed_mid_epoch_resumes_exactly(setup):
    # --compile's warm-up looks at a batch before training: after a resume it must leave the
    # loader mid-epoch, where the killed run stopped (it once restarted the epoch).
    root, data, _ = setup
    args = [*ARGS[:ARGS.index("--epochs")], "--epochs", "2", *ARGS[ARGS.index("--epochs") + 2:],
            "--compile"]
    killed_run_resumes_exactly(root, data, args, "compiled", "kill-at-step:26")


def test_run_with_trimmed_taps_stopped_mid_epoch_resumes_exactly(setup):
    # ResNet-18 on 12x12 images: its last two stages see one pixel, and the optimizer steps only
    # their kernels' in-image taps (engine/tap_trimming.py); with weight decay (the default
    # here) the padding-only taps' decay is applied whenever they are read, from where it
    # started. Ctrl-C at step 14 saves a checkpoint that a run never stopped does not take
    # (--checkpoint-steps 4): the resumed run must still round every later reading alike.
    # (Without weight decay the same code runs with nothing to decay;
    # tests/engine/test_tap_trimming.py checks the resume state step by step.)
    root, data, _ = setup
    args = ["--device", "cpu", "--model", "resnet18", "--epochs", "2", "--batch-size", "8",
            "--log-steps", "5", "--checkpoint-steps", "4", "--seed", "1"]
    reference = killed_run_resumes_exactly(root, data, args, "trimmed", "sigint-at-step:14", 130)
    results = json.loads((reference / "results.json").read_text())
    assert results["padding_only_weights_not_stepped"] > 5_000_000  # of its 11.2 million


def test_resume_after_the_data_moved_takes_data_and_finishes_the_same_run(setup):
    """--data naming the data's new place is no change of settings: the run's record keeps its
    spec, data-split.json checks the images, and the result is the uninterrupted run's."""
    root, _, reference = setup
    shutil.copytree(root / "data", root / "movable")
    run = root / "moved-data"
    assert trainlab("train", "--data", f"folder:{root / 'movable'}", *ARGS, "--out", str(run),
                    fault="kill-at-step:30").returncode == -signal.SIGKILL
    (root / "movable").rename(root / "moved")
    lost = trainlab("train", "--resume", str(run))
    assert lost.returncode == 2
    assert f"data set {root / 'movable'} is not there any more; if it moved, or the run came " \
           "from another machine, name its new place with --data folder:NEW_PATH" in lost.stderr
    resumed = trainlab("train", "--resume", str(run), "--data", f"folder:{root / 'moved'}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run, reference)
    assert f"folder:{root / 'movable'}" in (run / "config.yaml").read_text()
