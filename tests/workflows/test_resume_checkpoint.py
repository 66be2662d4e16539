"""resume.pt on its own: refused when crafted, intact when a save is interrupted."""
import os

import pytest
import torch

from trainlab.engine import CheckpointError, Runner
from trainlab.workflows.resume import (
    PREVIOUS,
    RESUME,
    ResumeCheckpointer,
    load_resume_checkpoint,
    read_resume_checkpoint,
)


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch ran-code",))


def small_runner():
    model = torch.nn.Linear(3, 2)
    return Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), None, device="cpu",
                  progress=False)


def test_crafted_resume_checkpoint_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"global_step": 3, "model": _Payload()}, tmp_path / RESUME)
    with pytest.raises(CheckpointError, match=r"resume\.pt is not a readable resume checkpoint "
                                              r"\(Trying to load unsupported GLOBAL posix\.system"):
        read_resume_checkpoint(tmp_path / RESUME)
    with pytest.raises(CheckpointError, match="no usable resume checkpoint"):
        load_resume_checkpoint(tmp_path, echo=lambda line: None)
    assert not (tmp_path / "ran-code").exists()


def test_crash_while_saving_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    runner = small_runner()
    checkpointer = ResumeCheckpointer(tmp_path, {"seed": 0}, every_steps=1)
    checkpointer.save(runner, None)
    first = (tmp_path / RESUME).read_bytes()

    def crash(state, path):
        with open(path, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpointer.save(runner, None)
    assert (tmp_path / RESUME).read_bytes() == first
    assert not (tmp_path / PREVIOUS).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [RESUME]  # no temporary left behind
    assert read_resume_checkpoint(tmp_path / RESUME)["global_step"] == 0
