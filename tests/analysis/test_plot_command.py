"""End to end on a tiny generated run: training writes samples.png, evaluation the error grid and
the confused pairs."""
import csv
import json

import pytest
from PIL import Image

from fake_data import make_image_folder, tiny_mlp_args
from trainlab.analysis import most_confused
from trainlab.cli.main import main


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
