"""`trainlab evaluate` scores only what fits the run: its own kind of checkpoint, its own data."""
import json
import shutil
from pathlib import Path

import pytest

from fake_data import make_image_folder
from trainlab.cli.main import main

QUICK = ["--model", "mlp", "--option", "hidden=[8]", "--epochs", "1", "--batch-size", "8",
         "--log-steps", "0"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    make_image_folder(root / "pets", classes=("cat", "dog", "fox"), per_class=20, size=8)
    make_image_folder(root / "grey", classes=("zero", "one"), per_class=20, size=8, mode="L")
    assert main(["train", "--data", f"folder:{root / 'pets'}", *QUICK,
                 "--out", str(root / "pets-run")]) == 0
    assert main(["train", "--data", f"folder:{root / 'grey'}", *QUICK,
                 "--out", str(root / "grey-run")]) == 0
    return root


def test_checkpoint_of_another_run_is_refused_naming_both(runs, capsys):
    run = runs / "pets-run"
    assert main(["evaluate", str(run)]) == 0
    before = (run / "evaluation-test.json").read_bytes()
    capsys.readouterr()
    foreign = runs / "grey-run" / "best.safetensors"
    assert main(["evaluate", str(run), "--checkpoint", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert f"checkpoint {foreign} does not belong to the run {run}" in err
    assert "in_channels 1 (checkpoint) vs 3 (run)" in err
    assert "class_names ['one', 'zero'] (checkpoint) vs ['cat', 'dog', 'fox'] (run)" in err
    assert "data 'folder:" in err and "grey' (checkpoint) vs 'folder:" in err
    assert (run / "evaluation-test.json").read_bytes() == before  # nothing overwritten


def test_relative_checkpoint_is_relative_to_the_working_directory(runs, monkeypatch, capsys):
    """...and each checkpoint's files are named apart: scoring last or a copy never replaces
    the best checkpoint's evaluation, and `plot --checkpoint` draws from the matching one."""
    monkeypatch.chdir(runs)
    run = runs / "pets-run"
    assert main(["evaluate", "pets-run"]) == 0
    best = (run / "evaluation-test.json").read_bytes()
    shutil.copy(run / "last.safetensors", runs / "copy.safetensors")
    assert main(["evaluate", "pets-run", "--checkpoint", "copy.safetensors"]) == 0
    assert json.loads((run / "evaluation-test-file-copy.json").read_text())["checkpoint"] \
        == "copy.safetensors"
    assert main(["evaluate", "pets-run", "--checkpoint", "last"]) == 0
    assert "saved: " + str(Path("pets-run") / "evaluation-test-last.json") in capsys.readouterr().out
    for name in ("confusion-test-last.csv", "confusion-test-last.png", "errors-test-last.png",
                 "confused-pairs-test-last.csv", "errors-test-file-copy.png"):
        assert (run / name).is_file(), name
    assert json.loads((run / "evaluation-test-last.json").read_text())["checkpoint"] == "last"
    assert (run / "evaluation-test.json").read_bytes() == best
    assert main(["plot", "pets-run", "--what", "confusion", "--checkpoint", "last"]) == 0
    assert "confusion-test-last.png" in capsys.readouterr().out
    assert main(["plot", "pets-run", "--what", "confusion", "--split", "dev",
                 "--checkpoint", "last"]) == 2
    assert "no evaluation-dev-last.json; run `trainlab evaluate pets-run --split dev " \
           "--checkpoint last` first" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["evaluate", "pets-run", "--checkpoint", "last.safetensors"]) == 2
    assert "write --checkpoint last" in capsys.readouterr().err


def test_changed_folder_is_refused_when_test_images_were_trained_on(tmp_path, capsys):
    make_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=20, size=8)
    run = tmp_path / "run"
    assert main(["train", "--data", f"folder:{tmp_path / 'pets'}", *QUICK, "--out", str(run)]) == 0
    assert (run / "data-split.json").is_file()
    # Files added after training: the test split is carved again and takes trained-on images.
    make_image_folder(tmp_path / "extra", classes=("cat", "dog"), per_class=5, size=8)
    for name in ("cat", "dog"):
        for i, image in enumerate(sorted((tmp_path / "extra" / name).iterdir())):
            shutil.copy(image, tmp_path / "pets" / name / f"new{i}.png")
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"the data folder:{tmp_path / 'pets'} changed since {run} was trained" in err
    assert "of the 10 test images were in its training split" in err
    assert "--allow-changed-data" in err
    assert not (run / "evaluation-test.json").exists()
    assert main(["evaluate", str(run), "--allow-changed-data"]) == 0
    assert "warning: the data changed" in capsys.readouterr().out
    report = json.loads((run / "evaluation-test.json").read_text())
    assert "were in its training split" in report["data_changed"]


def test_unchanged_data_evaluates_without_a_word(runs, capsys):
    assert main(["evaluate", str(runs / "pets-run")]) == 0
    out = capsys.readouterr().out
    assert "changed" not in out and "note:" not in out


def test_data_moved_after_training_is_named_with_data(tmp_path, capsys):
    """The run's folder moved: evaluate says it is missing; --data points at the new place, and
    data-split.json still checks that it is the same images (other data is refused)."""
    make_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=20, size=8)
    run = tmp_path / "run"
    assert main(["train", "--data", f"folder:{tmp_path / 'pets'}", *QUICK, "--out", str(run)]) == 0
    (tmp_path / "pets").rename(tmp_path / "moved")
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"folder data set {tmp_path / 'pets'} is not there any more; if it moved, or the run " \
           "came from another machine, name its new place with --data folder:NEW_PATH" in err
    assert main(["evaluate", str(run), "--data", f"folder:{tmp_path / 'moved'}"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["plot", str(run), "--what", "errors", "--data", f"folder:{tmp_path / 'moved'}"]) == 0
    assert (run / "errors-test.png").is_file()
    make_image_folder(tmp_path / "other", classes=("cat", "dog"), per_class=20, size=8, mode="L")
    capsys.readouterr()
    samples = (run / "samples.png").read_bytes()
    for command in (["evaluate", str(run)], ["plot", str(run), "--what", "samples"]):
        assert main([*command, "--data", f"folder:{tmp_path / 'other'}"]) == 2
        assert f"the data folder:{tmp_path / 'other'} changed since {run} was trained" \
            in capsys.readouterr().err
    assert (run / "samples.png").read_bytes() == samples
