"""End to end on a tiny generated run: training writes samples.png, evaluation the error grid and
the confused pairs, and `trainlab plot RUN` draws every picture again."""
import csv
import json
import shutil

import pytest
from PIL import Image

from fake_data import make_image_folder, tiny_mlp_args
from trainlab.analysis import most_confused
from trainlab.cli.main import main

PICTURES = ["curves.png", "samples.png", "confusion-test.png", "confusion-test-normalised.png",
            "errors-test.png"]


def assert_png(path):
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 150 and image.height >= 100


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("plot")
    make_image_folder(root / "pets", classes=("cat", "dog", "fox"), per_class=20, size=8)
    run = root / "run"
    assert main(["train", "--data", f"folder:{root / 'pets'}", *tiny_mlp_args(8),
                 "--out", str(run)]) == 0
    return run


def test_training_writes_samples_and_evaluation_writes_errors_and_pairs(run, capsys):
    assert_png(run / "samples.png")
    assert not (run / "errors-test.png").exists()
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert "confused-pairs-test.csv, errors-test.png" in out
    assert_png(run / "errors-test.png")
    report = json.loads((run / "evaluation-test.json").read_text())
    with open(run / "confused-pairs-test.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["actual", "predicted", "count"]
    expected = most_confused(report["confusion_matrix"], report["class_names"], 10)
    assert rows[1:] == [[a, p, str(c)] for a, p, c in expected]
    if expected:  # printed as a table too
        actual, predicted, count = expected[0]
        assert "most confused pairs:" in out
        assert any(line.split() == [actual, predicted, str(count)] for line in out.splitlines())
    else:
        assert "most confused pairs: none" in out


def test_plot_draws_every_picture_again(run, capsys):
    if not (run / "evaluation-test.json").exists():
        assert main(["evaluate", str(run)]) == 0
    for name in [*PICTURES, "confused-pairs-test.csv"]:
        (run / name).unlink()
    capsys.readouterr()
    assert main(["plot", str(run)]) == 0
    out = capsys.readouterr().out
    for name in PICTURES:
        assert_png(run / name)
        assert f"wrote {run / name}" in out
    assert (run / "confused-pairs-test.csv").read_text().startswith("actual,predicted,count\n")
    assert main(["plot", str(run), "--what", "samples"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run / 'samples.png'}"


def test_plot_says_what_it_cannot_draw_yet(run, capsys):
    capsys.readouterr()
    assert main(["plot", str(run), "--what", "confusion", "--split", "dev"]) == 2
    err = capsys.readouterr().err
    assert f"has no evaluation-dev.json; run `trainlab evaluate {run} --split dev` first" in err
    assert not (run / "confusion-dev.png").exists()
    assert main(["plot", str(run), "--split", "dev"]) == 0  # all: the rest is drawn
    out = capsys.readouterr().out
    assert "skipped confusion: " in out
    assert_png(run / "errors-dev.png")
    assert not (run / "evaluation-dev.json").exists()  # plotting is not evaluating


def test_plot_errors_refuses_changed_data_as_evaluate_does(tmp_path, capsys):
    make_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=20, size=8)
    run = tmp_path / "run"
    assert main(["train", "--data", f"folder:{tmp_path / 'pets'}", *tiny_mlp_args(8),
                 "--out", str(run)]) == 0
    make_image_folder(tmp_path / "extra", classes=("cat", "dog"), per_class=5, size=8)
    for name in ("cat", "dog"):  # added after training: the test split is carved again
        for i, image in enumerate(sorted((tmp_path / "extra" / name).iterdir())):
            shutil.copy(image, tmp_path / "pets" / name / f"new{i}.png")
    capsys.readouterr()
    assert main(["plot", str(run), "--what", "errors"]) == 2
    assert "--allow-changed-data" in capsys.readouterr().err
    assert not (run / "errors-test.png").exists()
    assert main(["plot", str(run), "--what", "errors", "--allow-changed-data"]) == 0
    assert "warning: the data changed" in capsys.readouterr().out
    assert_png(run / "errors-test.png")
