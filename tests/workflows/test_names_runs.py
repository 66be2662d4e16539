"""The names classifier end to end: CLI and library, each recurrent cell, predict --text,
evaluate, and a run directory like every other."""
import json

import pytest

from fake_data import make_names, write_names_csv, write_names_folder
from trainlab.cli.main import main
from trainlab.workflows import build_config, evaluate_run, train
from trainlab.workflows.predict_text import predict_texts

SMALL = ["--option", "hidden=16", "--epochs", "6", "--batch-size", "8", "--optimizer", "adam",
         "--lr", "0.02", "--log-steps", "0"]


@pytest.fixture(scope="module")
def names_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("names")
    path = write_names_csv(root / "names.csv.gz", make_names(24))
    run = root / "run"
    assert main(["train", "--model", "name-rnn", "--data", f"names:{path}", "--out", str(run),
                 *SMALL]) == 0
    return run


def test_names_run_directory_and_learning(names_run):
    for name in ("curves.png", "results.json", "metrics.csv", "best.safetensors"):
        assert (names_run / name).is_file(), name
    results = json.loads((names_run / "results.json").read_text())
    # Three labels told apart by their endings: far above the one in three of guessing.
    assert results["test_accuracy"] >= 0.8 and results["task"] == "classification"


def test_predict_text_gives_the_top_labels(names_run, capsys):
    assert main(["predict", str(names_run), "--text", "Yamamoto", "--text", "Fernandez",
                 "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Yamamoto: Japanese") and lines[1].startswith("Fernandez: Spanish")
    assert all(len(line.split(", ")) == 2 for line in lines)
    predictions = predict_texts(names_run, ["Nakamoto"], top_k=3)
    assert predictions[0].classes[0] == "Japanese" and len(predictions[0].classes) == 3
    assert sum(predictions[0].probabilities) <= 1 + 1e-6


def test_evaluate_and_wrong_uses_of_text(names_run, tmp_path, capsys):
    report = evaluate_run(names_run, echo=lambda *a: None)
    assert report["class_names"] == ["Japanese", "Spanish", "Swedish"]
    assert main(["predict", str(names_run), str(tmp_path), "--text", "Abe"]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_other_cells_from_the_library_on_a_folder(tmp_path, cell):
    folder = write_names_folder(tmp_path / "names", make_names(12))
    config = build_config(None, model="name-rnn", model_options={"cell": cell, "hidden": 8},
                          data=f"names:{folder}", epochs=2, batch_size=8, optimizer="adam",
                          lr=0.02, log_steps=0, out=str(tmp_path / "run"))
    results = train(config, echo=lambda *a: None).results
    assert 0 <= results["test_accuracy"] <= 1
    meta = predict_texts(tmp_path / "run", ["Olsson"])[0]
    assert len(meta.classes) == 3


def test_hello_run_writes_ohlol_for_hello(tmp_path, capsys):
    run = tmp_path / "hello"
    assert main(["train", "--model", "char-embedding-rnn", "--data", "hello", "--epochs", "15",
                 "--batch-size", "1", "--optimizer", "adam", "--lr", "0.05", "--schedule", "none",
                 "--log-steps", "0", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), "--text", "hello"]) == 0
    assert capsys.readouterr().out.startswith("hello: ohlol ")
    assert main(["predict", str(run), "--text", "help"]) == 2
    assert "only the letters 'ehlo', not 'p'" in capsys.readouterr().err


def test_plot_draws_what_a_names_run_has(names_run, capsys):
    assert main(["evaluate", str(names_run)]) == 0
    assert (names_run / "confusion-test.png").is_file()
    capsys.readouterr()
    assert main(["plot", str(names_run)]) == 0
    out = capsys.readouterr().out
    assert "skipped samples: samples shows images" in out and "wrote" in out
    assert main(["plot", str(names_run), "--what", "errors"]) == 2
