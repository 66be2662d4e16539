"""The command line end to end on generated data: train, evaluate, predict, --config."""
import csv
import json
import subprocess
import sys

import pytest
import yaml

from fake_data import make_csv_dataset, make_idx_dataset, make_image_folder
from trainlab.cli.main import main


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


FAST = ["--epochs", "4", "--batch-size", "16", "--log-steps", "0", "--lr", "0.05"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    make_image_folder(root / "pets", classes=("cat", "dog", "fox"), per_class=20, size=16)
    run = root / "run"
    code = main(["train", "--model", "mlp", "--data", f"folder:{root / 'pets'}", "--out", str(run),
                 "--seed", "1", *FAST])
    assert code == 0
    return root, run


def test_train_writes_the_run_directory(trained_run, capsys):
    _, run = trained_run
    for name in ("config.yaml", "metrics.csv", "best.safetensors", "last.safetensors",
                 "curves.png", "results.json"):
        assert (run / name).is_file(), name
    results = json.loads((run / "results.json").read_text())
    for key in ("test_accuracy", "test_loss", "best_dev_accuracy", "epochs", "train_seconds",
                "train_images_per_second"):
        assert key in results
    assert results["epochs"] == 4 and results["test_accuracy"] >= 0.8  # easy, learnable images
    rows = read_rows(run / "metrics.csv")
    assert [r["split"] for r in rows if r["split"] != "train_step"] == ["dev", "train"] * 4
    assert list(rows[0]) == ["step", "epoch", "split", "loss", "accuracy", "lr"]
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"] == "mlp" and config["epochs"] == 4 and config["seed"] == 1


def test_train_prints_accuracy_and_run_dir(tmp_path, capsys):
    make_csv_dataset(tmp_path / "tiny", n=30)
    code = main(["train", "--model", "cnn-small", "--data", f"csv:{tmp_path / 'tiny'}",
                 "--out", str(tmp_path / "r"), *FAST])
    out = capsys.readouterr().out
    assert code == 0
    assert any(line.startswith("test accuracy: 0.") or line == "test accuracy: 1.0000"
               for line in out.splitlines())
    assert f"run directory: {tmp_path / 'r'}" in out


def test_evaluate_reproduces_the_test_accuracy(trained_run, capsys):
    _root, run = trained_run
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    report = json.loads((run / "evaluation-test.json").read_text())
    results = json.loads((run / "results.json").read_text())
    assert report["accuracy"] == pytest.approx(results["test_accuracy"])
    assert report["loss"] == pytest.approx(results["test_loss"], rel=1e-4)
    assert set(report["per_class_accuracy"]) == {"cat", "dog", "fox"}
    assert sum(map(sum, report["confusion_matrix"])) == report["images"]
    assert (run / "confusion-test.png").stat().st_size > 0
    assert (run / "confusion-test-normalised.png").stat().st_size > 0  # rows as shares
    rows = [list(r.values()) for r in read_rows(run / "confusion-test.csv")]
    assert [r[0] for r in rows] == ["cat", "dog", "fox"] and len(rows[0]) == 4
    assert "confusion matrix" in out and "cat" in out


def test_predict_files_and_folders_to_csv(trained_run, capsys):
    root, run = trained_run
    single = root / "pets" / "dog" / "3.png"
    code = main(["predict", str(run), str(single), str(root / "pets" / "fox"), "--top-k", "2",
                 "--csv", str(root / "out.csv")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].startswith(f"{single}: dog ")
    rows = read_rows(root / "out.csv")
    assert len(rows) == 21 and list(rows[0]) == ["path", "class_1", "probability_1", "class_2",
                                                 "probability_2"]
    fox = [r for r in rows if "/fox/" in r["path"]]
    assert sum(r["class_1"] == "fox" for r in fox) >= 16


def test_predict_converts_size_and_channels_and_reports_bad_files(trained_run, tmp_path, capsys):
    from PIL import Image

    _, run = trained_run
    Image.new("L", (50, 40), 128).save(tmp_path / "grey-big.png")  # grey, wrong size
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n")
    code = main(["predict", str(run), str(tmp_path / "grey-big.png"), str(tmp_path / "broken.png"),
                 str(tmp_path / "missing.png")])
    captured = capsys.readouterr()
    assert code == 1
    assert "grey-big.png: " in captured.out
    assert "broken.png: cannot read as an image" in captured.err
    assert "missing.png: no such file or folder" in captured.err


def test_config_file_reproduces_a_run(trained_run, tmp_path):
    _, run = trained_run
    assert main(["train", "--config", str(run / "config.yaml"), "--out", str(tmp_path / "again")]) == 0
    first = json.loads((run / "results.json").read_text())
    second = json.loads((tmp_path / "again" / "results.json").read_text())
    assert second["test_accuracy"] == first["test_accuracy"]
    losses = lambda path: [r["loss"] for r in read_rows(path / "metrics.csv")]
    assert losses(tmp_path / "again") == losses(run)


def test_flags_override_config_file(trained_run, tmp_path):
    _, run = trained_run
    code = main(["train", "--config", str(run / "config.yaml"), "--epochs", "1",
                 "--option", "hidden=[16]", "--out", str(tmp_path / "o")])
    assert code == 0
    config = yaml.safe_load((tmp_path / "o" / "config.yaml").read_text())
    assert config["epochs"] == 1 and config["model_options"] == {"hidden": [16]}
    assert config["model"] == "mlp"


def test_idx_files_via_data_dir(tmp_path):
    make_idx_dataset(tmp_path / "MNIST" / "raw", n_train=40, n_test=10)
    code = main(["train", "--model", "cnn", "--data", "mnist", "--data-dir", str(tmp_path),
                 "--out", str(tmp_path / "r"), "--epochs", "1", "--log-steps", "0"])
    assert code == 0
    assert json.loads((tmp_path / "r" / "results.json").read_text())["data_sizes"]["test"] == 10


@pytest.mark.parametrize("argv,message", [
    (["train", "--model", "alexnet"], "model = 'alexnet' is not one of"),
    (["train", "--model", "resnet18", "--option", "residual"], "expected KEY=VALUE"),
    (["train", "--model", "cnn", "--option", "depth=3"], "has no option(s) depth"),
    (["train", "--data", "folder:/no/such/dir"], "/no/such/dir is not a directory"),
    (["train", "--epochs", "0"], "--epochs (epochs) must be a whole number >= 1"),
    (["train", "--image-size", "0"], "--image-size (image_size) must be a whole number >= 1"),
    (["train", "--checkpoint-steps", "-1"], "--checkpoint-steps (checkpoint_steps) must be"),
    (["evaluate", "/no/run"], "not a run directory"),
])
def test_bad_input_gets_a_clear_error(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_yaml_key_is_an_error(tmp_path, capsys):
    (tmp_path / "run.yaml").write_text("model: cnn\nepoch: 3\n")
    assert main(["train", "--config", str(tmp_path / "run.yaml")]) == 2
    assert "unknown key(s) epoch" in capsys.readouterr().err


def test_existing_run_is_not_overwritten(trained_run, capsys):
    _, run = trained_run
    before = (run / "results.json").read_text()
    assert main(["train", "--out", str(run), "--epochs", "1"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (run / "results.json").read_text() == before


def test_out_that_holds_other_files_is_refused_before_the_data_load(tmp_path, capsys):
    """A run would replace files named like its own (results.json, metrics.csv): an --out that is
    not empty is refused, untouched, before any data is read (the data path here does not exist)."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "results.json").write_text('{"mine": 1}')
    (out / "notes.txt").write_text("mine")
    argv = ["train", "--data", f"folder:{tmp_path / 'no-such-folder'}", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--out {out} is not empty (2 entries: notes.txt, results.json)" in err
    assert "choose a new or empty directory" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "results.json"]
    assert (out / "results.json").read_text() == '{"mine": 1}'
    (out / "results.json").unlink()
    (out / "notes.txt").unlink()
    (out / ".DS_Store").write_bytes(b"")  # a file manager's: the folder counts as empty
    assert main(argv) == 2  # a run may use it: the data error comes next
    assert "no-such-folder" in capsys.readouterr().err


def test_a_run_trained_on_a_relative_path_is_used_from_another_directory(tmp_path, monkeypatch,
                                                                            capsys):
    """The run saves the data's absolute path: evaluate and resume-compatible config comparisons
    work from anywhere, and the same relative --data on --resume is no change."""
    project = tmp_path / "project"
    make_image_folder(project / "pets", classes=("cat", "dog"), per_class=10, size=12)
    monkeypatch.chdir(project)
    argv = ["train", "--data", "folder:pets", "--model", "mlp", "--epochs", "1", "--log-steps", "0",
            "--device", "cpu", "--out", "runs/pets"]
    assert main(argv) == 0
    saved = yaml.safe_load((project / "runs/pets/config.yaml").read_text())
    assert saved["data"] == f"folder:{project / 'pets'}"
    assert main(["train", "--resume", "runs/pets", "--data", "folder:pets"]) == 0  # finished: no change
    assert "changes nothing" in capsys.readouterr().out
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["evaluate", str(project / "runs/pets"), "--device", "cpu"]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_console_script_lists_datasets_and_models():
    run = lambda *a: subprocess.run([sys.executable, "-m", "trainlab", *a], capture_output=True,
                                    text=True, check=True).stdout
    datasets, models = run("datasets"), run("models")
    assert "fashion-mnist" in datasets and "folder:PATH" in datasets and "csv:PATH" in datasets
    for name in ("mlp", "fc2", "cnn", "cnn-small", "lenet-cifar", "inception", "resnet-mini",
                 "resnet18", "vgg16"):
        assert f"\n{name} " in "\n" + models
    assert "usage: trainlab train" in run("train", "--help")


def test_predict_names_every_input_it_skipped(trained_run, tmp_path, capsys):
    from PIL import Image

    _, run = trained_run
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (16, 16), 200).save(tmp_path / "photos" / "ok.png")
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    code = main(["predict", str(run), str(tmp_path / "photos"), str(tmp_path / "gone.png")])
    captured = capsys.readouterr()
    assert code == 1
    assert f"{tmp_path / 'photos' / 'ok.png'}: " in captured.out
    assert f"skipped {tmp_path / 'photos' / 'notes.txt'}: not an image file name (extension " \
           ".txt)" in captured.err
    assert f"skipped {tmp_path / 'photos' / 'broken.jpg'}: cannot read as an image" in captured.err
    assert f"skipped {tmp_path / 'gone.png'}: no such file or folder" in captured.err
    assert "predicted 1 image(s); skipped 3 input(s)" in captured.err


@pytest.mark.parametrize("argv,flag", [
    (["predict", "RUN", "x.png", "--top-k", "0"], "--top-k"),
    (["check-data", "digits", "--image-size", "0"], "--image-size"),
    (["train", "--nproc", "0"], "--nproc"),
])
def test_zero_where_a_count_belongs_is_an_error_naming_the_flag(trained_run, argv, flag, capsys):
    _, run = trained_run
    with pytest.raises(SystemExit) as exit_info:
        main([str(run) if a == "RUN" else a for a in argv])
    assert exit_info.value.code == 2
    assert f"argument {flag}: must be at least 1, got 0" in capsys.readouterr().err
