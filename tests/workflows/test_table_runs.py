"""Tables trained end to end, from the CLI and the library: run directory, curves, results by
task, evaluate, resume."""
import json

import pytest
from safetensors import safe_open

from cli_process import run_trainlab
from fake_data import write_table
from trainlab.cli.main import main
from trainlab.workflows import build_config, evaluate_run, train

QUICK = ["--epochs", "3", "--batch-size", "16", "--log-steps", "0", "--optimizer", "adam",
         "--lr", "0.05"]


def test_binary_table_from_the_cli_with_seed_004s_network(tmp_path, capsys):
    path = write_table(tmp_path / "t.csv.gz", n=120, task="binary")
    run = tmp_path / "run"
    assert main(["train", "--model", "mlp", "--option", "hidden=[6,4,2]", "--option",
                 "activation=sigmoid", "--data", f"table:{path}", "--out", str(run), *QUICK]) == 0
    for name in ("config.yaml", "metrics.csv", "curves.png", "results.json", "best.safetensors",
                 "data-split.json"):
        assert (run / name).is_file(), name
    assert not (run / "samples.png").exists()  # no images to show
    results = json.loads((run / "results.json").read_text())
    assert results["task"] == "binary" and 0 <= results["test_accuracy"] <= 1
    assert results["best_dev_accuracy"] is not None
    assert 0.3 < results["test_majority_class_accuracy"] < 0.7  # x0 + x1 > 0: about half
    with safe_open(run / "best.safetensors", "pt") as handle:
        meta = json.loads(handle.metadata()["trainlab"])
    assert meta["task"] == "binary" and meta["inputs"] == "features" and meta["num_classes"] == 1
    assert len(meta["preprocessing"]["mean"]) == 3  # the training split's statistics travel
    capsys.readouterr()
    assert main(["evaluate", str(run), "--split", "dev"]) == 0
    assert "dev accuracy:" in capsys.readouterr().out
    report = json.loads((run / "evaluation-dev.json").read_text())
    assert report["class_names"] == ["0", "1"] and sum(map(sum, report["confusion_matrix"])) == 10
    assert main(["export", str(run), "--format", "bundle"]) == 2  # one sentence, no traceback
    assert "export writes image models only; use the run itself with `trainlab predict " \
        in capsys.readouterr().err
    assert not (run / "error.log").exists()


def test_regression_from_the_library_reports_mse_mae_r2(tmp_path):
    path = write_table(tmp_path / "t.csv", n=200, task="regression")
    config = build_config(None, model="linear", data=f"table:{path}", epochs=20, batch_size=32,
                          optimizer="adam", lr=0.05, log_steps=0, out=str(tmp_path / "run"))
    results = train(config, echo=lambda *a: None).results
    assert results["test_accuracy"] is None and "best_dev_accuracy" not in results
    # y = 2 x0 - x1 + small noise: linear regression explains almost all of it.
    assert results["test_r2"] > 0.9 and results["best_dev_r2"] > 0.9
    assert results["test_mse"] < 5 and results["test_mae"] < 2  # in the target's own units
    report = evaluate_run(tmp_path / "run", echo=lambda *a: None)
    assert report["r2"] == pytest.approx(results["test_r2"], abs=1e-6)
    assert report["mse"] == pytest.approx(results["test_mse"], rel=1e-5)


def test_a_killed_table_run_resumes_to_the_same_rows_and_weights(tmp_path):
    path = write_table(tmp_path / "t.csv", n=96, task="classes")
    flags = ["--model", "logistic", "--data", f"table:{path}", "--epochs", "2",
             "--batch-size", "8", "--log-steps", "1", "--checkpoint-steps", "3", "--seed", "3"]
    assert main(["train", *flags, "--out", str(tmp_path / "whole")]) == 0
    killed = run_trainlab("train", *flags, "--out", tmp_path / "cut", fault="kill-at-step:7")
    assert killed.returncode == -9, killed.stderr
    assert main(["train", "--resume", str(tmp_path / "cut")]) == 0
    assert (tmp_path / "cut" / "metrics.csv").read_bytes() == \
        (tmp_path / "whole" / "metrics.csv").read_bytes()
    whole, cut = (json.loads((tmp_path / r / "results.json").read_text())
                  for r in ("whole", "cut"))
    assert cut["test_accuracy"] == whole["test_accuracy"] and cut["test_loss"] == whole["test_loss"]


def test_predict_table_rows_by_column_name(tmp_path, capsys):
    path = write_table(tmp_path / "t.csv", n=200, task="regression")
    run = tmp_path / "run"
    assert main(["train", "--model", "linear", "--data", f"table:{path}", "--out", str(run),
                 "--epochs", "20", "--batch-size", "32", "--optimizer", "adam", "--lr", "0.05",
                 "--log-steps", "0"]) == 0
    rows = tmp_path / "rows.csv"
    rows.write_text("f2,f1,f0\n10,10,12\n10,12,10\n")  # columns in another order, no target
    capsys.readouterr()
    assert main(["predict", str(run), "--table", str(rows)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # y = 2 (f0 - 10) - (f1 - 10): 4 for the first row, -2 for the second
    first, second = (float(line.split(": ")[1]) for line in lines)
    assert lines[0].startswith("row 2:") and abs(first - 4) < 0.5 and abs(second + 2) < 0.5
    rows.write_text("f0,f1\n1,2\n")
    assert main(["predict", str(run), "--table", str(rows)]) == 2
    assert "no column(s) f2, which the run was trained on" in capsys.readouterr().err
