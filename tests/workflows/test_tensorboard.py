"""`trainlab train --tensorboard`: the events, read back with TensorBoard's own reader, hold
what metrics.csv holds, plus the learning rate, images/s and the settings as hparams."""
import csv
import sys

import pytest

from fake_data import make_image_folder
from trainlab.cli.main import main

pytest.importorskip("tensorboard", reason="needs the optional group: pip install -e "
                    "'.[tensorboard]' (make test installs it)")


def read_events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return events


def test_tensorboard_events_match_the_metrics_and_hold_the_settings(tmp_path):
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    make_image_folder(tmp_path / "pets", per_class=10, size=12)
    run = tmp_path / "run"
    assert main(["train", "--model", "mlp", "--option", "hidden=[8]", "--data",
                 f"folder:{tmp_path / 'pets'}", "--epochs", "2", "--batch-size", "8",
                 "--log-steps", "1", "--tensorboard", "--out", str(run)]) == 0
    with open(run / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    events = read_events(run / "tensorboard")

    def scalars(tag):
        return [(e.step, e.value) for e in events.Scalars(tag)]

    def expected(split, column):
        return [(int(r["step"]), pytest.approx(float(r[column]), rel=1e-5))
                for r in rows if r["split"] == split]

    assert len(expected("train_step", "loss")) == 6  # 2 epochs of 3 steps, each logged
    assert scalars("train/loss") == expected("train_step", "loss")
    assert scalars("dev/loss") == expected("dev", "loss")
    assert scalars("dev/accuracy") == expected("dev", "accuracy")
    assert scalars("train/epoch_loss") == expected("train", "loss")
    assert scalars("lr") == expected("train_step", "lr")
    speeds = scalars("images_per_second")
    assert [step for step, _ in speeds] == [2, 5] and all(value > 0 for _, value in speeds)

    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    settings = HParamsPluginData.FromString(content).session_start_info.hparams
    assert settings["model"].string_value == "mlp"
    assert settings["epochs"].number_value == 2
    assert settings["model_options"].string_value == '{"hidden": [8]}'
    assert settings["tensorboard"].number_value == 1  # torch writes booleans as numbers


def test_without_tensorboard_the_flag_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    code = main(["train", "--model", "mlp", "--data", "digits", "--epochs", "1",
                 "--tensorboard", "--out", str(tmp_path / "run")])
    assert code == 2
    assert "pip install 'trainlab[tensorboard]'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_killed_and_resumed_run_shows_each_step_once(tmp_path):
    from cli_process import run_trainlab

    make_image_folder(tmp_path / "pets", per_class=10, size=12)
    run = tmp_path / "run"
    args = ["--model", "mlp", "--option", "hidden=[8]", "--data", f"folder:{tmp_path / 'pets'}",
            "--epochs", "2", "--batch-size", "8", "--log-steps", "1", "--checkpoint-steps", "2",
            "--device", "cpu", "--tensorboard", "--out", str(run)]
    killed = run_trainlab("train", *args, fault="kill-at-step:4")  # after the step-4 checkpoint
    assert killed.returncode == -9, killed.stderr
    resumed = run_trainlab("train", "--resume", str(run), "--tensorboard")
    assert resumed.returncode == 0, resumed.stderr
    with open(run / "metrics.csv", newline="") as handle:
        losses = [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(handle)
                  if r["split"] == "train_step"]
    events = read_events(run / "tensorboard")
    assert len(list((run / "tensorboard").iterdir())) == 2  # one event file per process
    logged = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert [step for step, _ in logged] == list(range(6))  # replayed steps are not doubled
    assert [value for _, value in logged] == pytest.approx([value for _, value in losses], rel=1e-5)
