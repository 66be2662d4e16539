"""A full disk or an unwritable run directory: the error names the file and why, the previous
checkpoint stays, and no temporary file is left behind."""
import errno
import os
import re

import pytest
import torch

import trainlab.engine.checkpoint as checkpoint_module
from fake_data import make_image_folder
from trainlab.cli.main import main
from trainlab.engine import WriteError, writing

TINY = ["--model", "mlp", "--option", "hidden=[8]", "--epochs", "2", "--batch-size", "8",
        "--log-steps", "0", "--checkpoint-steps", "2"]


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    root = tmp_path_factory.mktemp("write-errors")
    return make_image_folder(root / "pets", classes=("cat", "dog"), per_class=12, size=8)


def fail_after(calls: int, real):
    """`real`, except that from call number `calls + 1` on it writes half a file and then finds
    the disk full."""
    count = {"n": 0}

    def write(obj, path, *args, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            with open(path, "wb") as handle:
                handle.write(b"half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(obj, path, *args, **kwargs)

    return write


def test_disk_full_while_saving_the_resume_checkpoint(pets, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch, "save", fail_after(1, torch.save))  # the 1st resume.pt succeeds
    run = tmp_path / "run"
    assert main(["train", *TINY, "--data", f"folder:{pets}", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"error: could not write {run / 'resume.pt'}: no space left on the device" in err
    assert f"{run / 'resume.pt'} (step 2) is the last checkpoint and was kept" in err
    assert f"continue with `trainlab train --resume {run}`" in err
    assert "Traceback" not in err
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
    monkeypatch.undo()
    assert torch.load(run / "resume.pt", weights_only=True)["global_step"] == 2


def test_disk_full_while_saving_the_weights(pets, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoint_module, "save_file",
                        fail_after(1, checkpoint_module.save_file))  # the 1st best is written
    run = tmp_path / "run"
    assert main(["train", *TINY, "--data", f"folder:{pets}", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert re.search(f"could not write {re.escape(str(run))}/(best|last).safetensors: no space "
                     "left on the device", err), err
    assert f"continue with `trainlab train --resume {run}`" in err
    assert not list(run.glob(".*.tmp"))
    monkeypatch.undo()
    assert main(["predict", str(run), str(pets / "cat" / "0.png")]) == 0  # the first best is kept


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes through directory permissions")
def test_unwritable_run_directory_is_named(pets, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["train", *TINY, "--data", f"folder:{pets}", "--out",
                     str(locked / "run")]) == 2
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert f"could not create the run directory {locked / 'run'}: permission denied" in err


def test_write_errors_say_why_in_words(tmp_path):
    for number, words in ((errno.ENOSPC, "no space left on the device"),
                          (errno.EACCES, "permission denied"),
                          (errno.EROFS, "read-only")):
        with pytest.raises(WriteError, match=words) as error, writing(tmp_path / "x.csv"):
            raise OSError(number, os.strerror(number))
        assert str(tmp_path / "x.csv") in str(error.value) and error.value.errno == number


def test_permission_denied_is_named_even_as_root(pets, tmp_path, monkeypatch, capsys):
    """The same path as the chmod test, by fault injection (chmod does not stop root)."""
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(type(tmp_path), "mkdir", refuse)
    assert main(["train", *TINY, "--data", f"folder:{pets}", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"could not create the run directory {tmp_path / 'r'}: permission denied; make the " \
           "folder writable or choose another --out" in err
