"""`trainlab experiment`: each experiment end to end with --quick on tiny generated MNIST-format
files, the report's contents checked against the run directories' results.json."""
import json
import re
import statistics

import pytest

from cli_process import run_trainlab
from fake_data import make_idx_dataset
from trainlab.cli.main import main
from trainlab.experiments import ExperimentError, SettingFailed, get_experiment, run_experiment

EXPERIMENTS = ("residual", "permuted-pixels", "models", "optimizers", "activations")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """MNIST-format files (40 train, 16 test, 4 classes, 28x28): the seeds' own data layout."""
    folder = tmp_path_factory.mktemp("data")
    make_idx_dataset(folder / "MNIST" / "raw", n_train=40, n_test=16)
    return folder


def table(report: str) -> dict[str, list[str]]:
    """The report's results table as {setting: cells}."""
    rows = [line for line in report.splitlines() if line.startswith("| ")][1:]  # no header
    rows = [row for row in rows if not row.startswith("| ---")]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    return {row[0]: row[1:] for row in cells}


def run_cli(*argv) -> int:
    return main(["experiment", *map(str, argv)])


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_end_to_end_quick(name, data_dir, tmp_path, capsys):
    out = tmp_path / name
    assert run_cli(name, "--quick", "--data", "mnist", "--data-dir", data_dir, "--seeds", 1,
                   "--out", out) == 0
    experiment = get_experiment(name)
    report = (out / "report.md").read_text()
    rows = table(report)
    assert list(rows) == [setting.name for setting in experiment.settings]
    for setting in experiment.settings:
        results = json.loads((out / setting.folder / "seed-1" / "results.json").read_text())
        assert results["data"] == "mnist" and results["epochs"] == 1
        assert results["precision"] == "fp32"
        cells = rows[setting.name]
        assert cells[0] == "1" and cells[1] == f"{results['test_accuracy']:.4f}"
        assert cells[2] == f"{results['parameters']:,}"
        figure = setting.seed_figure
        if figure is not None:  # the seed's words, quoted, beside ours
            assert figure.quote in report
            if figure.accuracy is not None:
                assert cells[5] == f"{figure.accuracy:.4f}"
    assert experiment.seed_source in report and "## Where ours differs" in report
    assert "Ours trains on mnist" in report and f"`trainlab experiment {name} " in report
    assert (out / "report.png").stat().st_size > 10_000


def test_permuted_settings_train_on_permuted_images(data_dir, tmp_path):
    """Checked on the runs the experiment wrote: the permuted settings' config and samples."""
    out = tmp_path / "permuted"
    run_experiment("permuted-pixels", data="mnist", data_dir=data_dir, seeds=1, quick=True,
                   out=out, echo=lambda *a, **k: None)
    config = (out / "cnn-permuted" / "seed-1" / "config.yaml").read_text()
    assert "permute_pixels: 1" in config
    assert "permute_pixels: null" in (out / "cnn-original" / "seed-1" / "config.yaml").read_text()
    assert (out / "permuted-samples.png").stat().st_size > 5_000
    assert "![" in (out / "report.md").read_text() and "permuted-samples.png" in \
        (out / "report.md").read_text()


def test_mean_std_over_seeds_and_rerun_reuses_finished_runs(data_dir, tmp_path):
    out = tmp_path / "activations"
    quiet = dict(data="mnist", data_dir=data_dir, quick=True, out=out, echo=lambda *a, **k: None)
    report = run_experiment("activations", seeds=2, **quiet)
    rows = table(report.markdown_path.read_text())
    for setting in ("ReLU", "Sigmoid"):
        runs = [json.loads((out / setting.lower() / f"seed-{s}" / "results.json").read_text())
                for s in (1, 2)]
        accuracy = [r["test_accuracy"] for r in runs]
        seconds = [r["train_seconds"] for r in runs]
        assert rows[setting][1] == (f"{statistics.mean(accuracy):.4f} ± "
                                    f"{statistics.stdev(accuracy):.4f}")
        assert rows[setting][4] == (f"{statistics.mean(seconds):.1f} ± "
                                    f"{statistics.stdev(seconds):.1f}")
    assert "reused" not in report.markdown_path.read_text()
    before = (out / "relu" / "seed-1" / "results.json").read_text()

    again = run_experiment("activations", seeds=2, **quiet)
    text = again.markdown_path.read_text()
    assert all(run.reused for entry in again.settings for run in entry.runs)
    assert text.count("(reused: finished by an earlier call)") == 4
    assert "4 finished run(s) were reused" in text
    assert (out / "relu" / "seed-1" / "results.json").read_text() == before  # not retrained

    with pytest.raises(ExperimentError, match=r"relu/seed-1 was trained with other settings "
                       r"\(epochs: 1 -> 2\)"):
        run_experiment("activations", seeds=2, epochs=2, **quiet)


def test_interrupted_experiment_resumes_on_rerun(data_dir, tmp_path):
    """A real process killed during the first run; the rerun finishes that run and the rest."""
    out = tmp_path / "killed"
    argv = ("experiment", "activations", "--quick", "--seeds", 1, "--data", "mnist",
            "--data-dir", data_dir, "--out", out)
    killed = run_trainlab(*argv, fault="kill-at-step:0")
    assert killed.returncode == -9
    assert (out / "relu" / "seed-1" / "config.yaml").is_file()
    assert not (out / "relu" / "seed-1" / "results.json").exists()
    assert run_cli(*argv[1:]) == 0
    assert (out / "relu" / "seed-1" / "results.json").is_file()
    assert (out / "sigmoid" / "seed-1" / "results.json").is_file()


def test_a_failed_seed_names_its_setting(data_dir, tmp_path, monkeypatch, capsys):
    # The weights turn NaN after step 0, so step 1 (the second epoch's) has a NaN loss.
    monkeypatch.setenv("TRAINLAB_FAULT", "nan-at-step:0")
    out = tmp_path / "nan"
    with pytest.raises(SettingFailed, match=r"experiment activations: setting 'ReLU', seed 1 "
                       r"\(.*relu/seed-1\) failed: "):
        run_experiment("activations", data="mnist", data_dir=data_dir, seeds=1, quick=True,
                       epochs=2, out=out, echo=lambda *a, **k: None)
    capsys.readouterr()
    assert run_cli("activations", "--quick", "--data", "mnist", "--data-dir", data_dir,
                   "--seeds", 1, "--epochs", 2, "--out", tmp_path / "nan2") == 3
    error = capsys.readouterr().err
    assert re.match(r"error: experiment activations: setting 'ReLU', seed 1 .* failed: ", error)


def test_list_names_every_experiment(capsys):
    assert run_cli("--list") == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == sorted(EXPERIMENTS)


@pytest.mark.parametrize("argv, message", [
    (["nope"], "error: unknown experiment 'nope'; choose one of activations, models, "
               "optimizers, permuted-pixels, residual (trainlab experiment --list)\n"),
    ([], "error: name an experiment, e.g. trainlab experiment residual (trainlab experiment "
         "--list names them all)\n"),
    (["residual", "--seeds", "0"], "error: --seeds must be at least 1, got 0\n"),
])
def test_bad_requests_are_one_sentence(argv, message, capsys, tmp_path):
    assert run_cli(*argv, "--out", tmp_path / "x") == 2
    captured = capsys.readouterr()
    assert captured.err == message
    assert not (tmp_path / "x").exists()
