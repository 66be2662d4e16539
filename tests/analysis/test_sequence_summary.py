"""Summaries of table and sequence models: MACs checked against the layers' own arithmetic,
for a given sequence length; `trainlab summary` for names and for a run."""
import json

import pytest

from fake_data import write_table
from trainlab.analysis import summarize_model, summarize_run
from trainlab.cli.main import main


def gru_parameters(inputs, hidden, layers, directions=2):
    total = 0
    for layer in range(layers):
        width = inputs if layer == 0 else hidden * directions
        total += directions * 3 * (width * hidden + hidden * hidden + 2 * hidden)
    return total


@pytest.mark.parametrize("steps", [5, 12])
def test_name_rnn_macs_are_parameters_times_steps(steps):
    summary = summarize_model("name-rnn", (60, steps), num_classes=10, batch=3)
    gru = gru_parameters(100, 100, 2)
    embedding = 60 * 100  # torchinfo counts the embedding table once per input (no product)
    head = 200 * 10 + 10
    assert summary.macs_per_input == gru * steps + embedding + head
    assert summary.layers[1].type == "GRU" and summary.layers[1].macs == 3 * steps * gru


def test_rnn_and_cells_count_every_step():
    rnn = summarize_model("rnn", (1, 10), num_classes=1)
    assert rnn.macs_per_input == 10 * (32 + 32 * 32 + 2 * 32) + 10 * (32 + 1)
    cell = summarize_model("char-rnncell", (4, 5), num_classes=4)
    assert cell.macs_per_input == 5 * (4 * 4 + 4 * 4 + 2 * 4)


def test_rnn_scratch_is_counted_from_its_matrix_products():
    summary = summarize_model("rnn-scratch", (1, 10), num_classes=1, batch=2)
    assert summary.macs_per_input == 10 * (1 * 32 + 32 * 32 + 32 * 1)


def test_table_models_and_the_cli(tmp_path, capsys):
    assert summarize_model("logistic", (30,), num_classes=1).macs_per_input == 31
    mlp = summarize_model("mlp", (8,), num_classes=1, options={"hidden": [6, 4, 2]})
    assert mlp.parameters == mlp.macs_per_input == 8 * 6 + 6 + 6 * 4 + 4 + 4 * 2 + 2 + 2 + 1
    assert main(["summary", "name-rnn", "--input", "60x12", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["macs_per_input"] > 0
    assert main(["summary", "rnn", "--input", "1x32x32"]) == 2
    assert "FEATURESxSTEPS" in capsys.readouterr().err


def test_a_table_run_records_macs_and_summarises(tmp_path):
    path = write_table(tmp_path / "t.csv", n=40)
    assert main(["train", "--model", "logistic", "--data", f"table:{path}", "--epochs", "1",
                 "--log-steps", "0", "--out", str(tmp_path / "run")]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["macs"] == 3 + 1 == summarize_run(tmp_path / "run").macs_per_input
