"""What every command does when things go wrong around it: closed pipes, unexpected errors;
and the words it uses (plain, no course references)."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import trainlab.cli.main as cli
from fake_data import make_image_folder, tiny_mlp_args
from trainlab.cli.main import build_parser, main

TINY = tiny_mlp_args(16)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-errors")
    make_image_folder(root / "pets", classes=("cat", "dog"), per_class=12, size=8)
    assert main(["train", *TINY, "--data", f"folder:{root / 'pets'}", "--out",
                 str(root / "run")]) == 0
    return root


@pytest.mark.parametrize("argv", [["models"], ["evaluate", "{run}"]])
def test_closed_output_pipe_exits_quietly(tiny_run, argv):
    """`trainlab evaluate RUN | head`: the reader is gone before we write; no traceback."""
    argv = [a.format(run=tiny_run / "run") for a in argv]
    process = subprocess.Popen([sys.executable, "-m", "trainlab", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # like `head` exiting at once
    err = process.stderr.read()
    process.wait(timeout=120)
    assert err == ""
    assert process.returncode == 141  # 128 + SIGPIPE, what a Unix tool killed by the pipe gives


def test_unexpected_error_without_a_run_is_one_line_and_a_log_in_the_temp_dir(monkeypatch,
                                                                              capsys):
    def broken():
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "list_datasets", broken)
    assert main(["datasets"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("error: ZeroDivisionError: division by zero\n")
    log = re.search(r"the full traceback is in (\S+) ", err).group(1)
    assert "trainlab-error-" in log and "--debug" in err
    with open(log) as handle:
        text = handle.read()
    assert "Traceback (most recent call last)" in text and "def broken" not in text
    assert "in broken" in text


def test_unexpected_error_during_a_run_goes_to_the_run_directory(tiny_run, monkeypatch, capsys):
    import importlib

    train_module = importlib.import_module("trainlab.workflows.train")
    def broken_plot(*args, **kwargs):
        raise RuntimeError("the plotting library broke")

    monkeypatch.setattr(train_module, "plot_curves", broken_plot)
    run = tiny_run / "broken"
    assert main(["train", *TINY, "--data", f"folder:{tiny_run / 'pets'}", "--out",
                 str(run)]) == 1
    err = capsys.readouterr().err
    assert "error: RuntimeError: the plotting library broke" in err
    assert f"the full traceback is in {run / 'error.log'}" in err
    assert "broken_plot" in (run / "error.log").read_text()


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(cli, "list_datasets", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "datasets"])


COURSE_REFERENCE = re.compile(r"\bseeds? ?\d{3}\b", re.IGNORECASE)


def all_help_texts():
    parser = build_parser()
    texts = [parser.format_help()]
    subparsers = next(a for a in parser._actions if a.dest == "command")
    texts += [sub.format_help() for sub in subparsers.choices.values()]
    return texts


def test_help_lists_and_messages_use_plain_words(tiny_run, capsys):
    for text in all_help_texts():
        assert not COURSE_REFERENCE.search(text), COURSE_REFERENCE.search(text)
    assert main(["models"]) == 0 and main(["datasets"]) == 0
    assert main(["train", *TINY, "--data", f"folder:{tiny_run / 'pets'}", "--out",
                 str(tiny_run / "plain")]) == 0
    assert main(["train", "--model", "resnet18", "--option", "stem=cifarr", "--data",
                 f"folder:{tiny_run / 'pets'}", "--out", str(tiny_run / "stem")]) != 0
    captured = capsys.readouterr()
    for line in (captured.out + captured.err).splitlines():
        assert not COURSE_REFERENCE.search(line), line


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_before_training_starts_is_one_line(tiny_run, tmp_path, monkeypatch, signum, code,
                                                  capsys):
    """Ctrl-C or SIGTERM while the data loads (no step yet, nothing to save): one line."""
    import importlib
    import shutil

    train_module = importlib.import_module("trainlab.workflows.train")

    def interrupted_loading(config):
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the signal arrives during this
        raise AssertionError("the signal should have stopped the command")

    monkeypatch.setattr(train_module, "dataset_for", interrupted_loading)
    assert main(["train", *TINY, "--data", f"folder:{tiny_run / 'pets'}"]) == code
    assert capsys.readouterr().err == "interrupted\n"
    # An unfinished run (a finished one is not resumed at all: --resume says so, loading nothing).
    unfinished = shutil.copytree(tiny_run / "run", tmp_path / "unfinished")
    (unfinished / "results.json").unlink()
    monkeypatch.setattr(train_module, "dataset_for", interrupted_loading)
    assert main(["train", "--resume", str(unfinished)]) == code
    assert capsys.readouterr().err == \
        f"interrupted; continue with `trainlab train --resume {unfinished}`\n"
