"""The run directory: one process at a time (an OS lock), CSV files with one line ending."""
import shutil
import signal

from cli_process import run_trainlab as trainlab
from fake_data import make_image_folder
from trainlab.cli.main import main
from trainlab.workflows.run_dir import MetricsWriter, RunLock

ARGS = ["--model", "mlp", "--option", "hidden=[8]", "--epochs", "2", "--batch-size", "8",
        "--log-steps", "1", "--checkpoint-steps", "2"]


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_second_process_on_a_locked_run_is_refused(tmp_path, capsys):
    make_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=20, size=8)
    data = ["--data", f"folder:{tmp_path / 'pets'}"]
    run = tmp_path / "run"
    killed = trainlab("train", *data, *ARGS, "--out", run, fault="kill-at-step:5")
    assert killed.returncode == -signal.SIGKILL  # the kernel released its lock
    before = snapshot(run)
    with RunLock(run, "train"):  # as if another trainlab process were training it
        refused = trainlab("train", "--resume", run)
        assert refused.returncode == 2
        assert f"cannot resume {run}: another trainlab process is using this run directory " \
               "right now; wait for it to finish" in refused.stderr
        # flock also refuses a second lock from this process: the same check, without a start-up
        assert main(["evaluate", str(run)]) == 2
        assert f"cannot evaluate {run}: another trainlab process" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    with RunLock(empty, "train"):
        assert main(["train", *data, *ARGS, "--out", str(empty)]) == 2
    assert f"cannot train {empty}: another trainlab process" in capsys.readouterr().err
    assert list(empty.iterdir()) == []
    assert snapshot(run) == before
    # Data that changed since the run started (data-split.json) is refused on resume too.
    extra = tmp_path / "pets" / "cat" / "extra.png"
    shutil.copy(tmp_path / "pets" / "dog" / "0.png", extra)
    refused = trainlab("train", "--resume", run)
    assert refused.returncode == 2 and f"changed since {run} started" in refused.stderr
    assert "add --force to resume anyway" in refused.stderr
    extra.unlink()
    resumed = trainlab("train", "--resume", run)
    assert resumed.returncode == 0, resumed.stderr


def test_metrics_rows_kept_on_resume_are_not_rewritten(tmp_path):
    path = tmp_path / "metrics.csv"
    writer = MetricsWriter(path)
    for step in range(3):
        writer.on_metrics(None, {"step": step, "epoch": 0, "split": "train", "loss": 0.5})
    whole = path.read_bytes()
    assert b"\r" not in whole and whole.count(b"\n") == 4
    writer.keep_rows(1)
    assert path.read_bytes() == b"\n".join(whole.split(b"\n")[:2]) + b"\n"
