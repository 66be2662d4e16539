"""`trainlab compare`: one table (Markdown, CSV) and one figure for several runs; older,
unfinished and dev-less runs show "-"; a folder that is not a run is one clear error."""
import csv
import json
import shutil

import matplotlib.pyplot as plt

from trainlab.analysis import compare_runs, draw_comparison
from trainlab.analysis.compare import COLUMNS, epoch_positions
from trainlab.cli.main import main


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_compare_writes_markdown_csv_and_figure(tiny_runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(tiny_runs["dev"]), str(tiny_runs["no-dev"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    markdown = (out / "comparison.md").read_text()
    assert markdown in printed
    lines = markdown.splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS) + " |" and len(lines) == 4
    dev_row, no_dev_row = ([cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:])
    column = list(COLUMNS).index
    assert dev_row[0] == "dev" and dev_row[column("model")] == "mlp"
    assert no_dev_row[column("best dev accuracy")] == "-"
    assert dev_row[column("best dev accuracy")] != "-"
    rows = read_csv(out / "comparison.csv")
    for row, name in zip(rows, ("dev", "no-dev")):
        results = json.loads((tiny_runs[name] / "results.json").read_text())
        assert int(row["parameters"]) == results["parameters"]
        assert int(row["MACs"]) == results["macs"] > 0
        assert float(row["test accuracy"]) == results["test_accuracy"]
        assert float(row["images/s"]) == results["train_images_per_second"]
        assert row["precision"] == results["precision"] and row["device"] == results["device"]
    assert rows[1]["best dev accuracy"] == ""
    assert (out / "comparison.png").stat().st_size > 10_000


def test_figure_overlays_each_runs_curves(tiny_runs):
    comparison = compare_runs([tiny_runs["dev"], tiny_runs["no-dev"]])
    fig = draw_comparison(comparison.records, comparison.metrics)
    acc_axis, loss_axis = fig.axes
    drawn = {line.get_label(): len(line.get_xdata()) for line in acc_axis.get_lines()}
    assert drawn == {"dev": 1, "no-dev (no dev split)": 0}  # one epoch, one evaluation
    labels = [line.get_label() for line in loss_axis.get_lines()]
    assert labels == ["dev train", "dev dev", "no-dev train"]
    assert acc_axis.get_xlabel() == "epoch" and loss_axis.get_ylabel() == "loss"
    assert comparison.files == []  # no `out`: nothing written
    plt.close(fig)


def test_older_and_unfinished_runs_show_dashes(tiny_runs, tmp_path):
    older = shutil.copytree(tiny_runs["dev"], tmp_path / "older")
    results = json.loads((older / "results.json").read_text())
    for key in ("macs", "precision", "train_images_per_second"):  # not recorded by older versions
        del results[key]
    (older / "results.json").write_text(json.dumps(results))
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(tiny_runs["dev"] / "config.yaml", unfinished)
    comparison = compare_runs([older, unfinished], out=tmp_path / "cmp")
    older_row, unfinished_row = comparison.cells()
    column = list(COLUMNS).index
    assert [older_row[column(c)] for c in ("MACs", "precision", "images/s")] == ["-"] * 3
    assert older_row[column("parameters")] != "-"
    assert unfinished_row[column("model")] == "mlp" and unfinished_row[column("data")] != "-"
    assert unfinished_row[column("test accuracy")] == "-"
    assert unfinished_row.count("-") == len(COLUMNS) - 3  # all but run, model and data
    assert (tmp_path / "cmp" / "comparison.png").is_file()


def test_a_folder_that_is_not_a_run_is_one_error_naming_it(tiny_runs, tmp_path, capsys):
    stray = tmp_path / "photos"
    stray.mkdir()
    out = tmp_path / "cmp"
    assert main(["compare", str(tiny_runs["dev"]), str(stray), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{stray} is not a run directory" in error
    assert not out.exists()  # refused before anything was written


def test_epochs_line_up_across_batch_sizes():
    def rows(steps_per_epoch):  # two epochs, evaluated mid-epoch and at each end
        out = []
        for epoch in range(2):
            end = (epoch + 1) * steps_per_epoch - 1
            out += [{"step": str(end - steps_per_epoch // 2), "epoch": str(epoch), "split": "dev"},
                    {"step": str(end), "epoch": str(epoch), "split": "dev"},
                    {"step": str(end), "epoch": str(epoch), "split": "train"}]
        return out
    assert epoch_positions(rows(10)) == epoch_positions(rows(40)) == [0.5, 1, 1, 1.5, 2, 2]
