import os

import pytest
import torch

from trainlab.engine import CheckpointError, Runner, load_checkpoint, save_checkpoint
from trainlab.engine.checkpoint import load_state_dict, save_state_dict
from trainlab.models import create_model


def test_safetensors_roundtrip_with_metadata(tmp_path):
    model = create_model("cnn", in_channels=1, num_classes=3, input_size=(28, 28))
    save_checkpoint(tmp_path / "m.safetensors", model, {"class_names": ["a", "b", "c"]})
    state, meta = load_checkpoint(tmp_path / "m.safetensors")
    assert meta == {"class_names": ["a", "b", "c"]}
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left over


@pytest.mark.parametrize("suffix", [".safetensors", ".pdparams"])
def test_garbage_and_truncated_files_are_named(tmp_path, suffix):
    model = torch.nn.Linear(3, 2)
    good = tmp_path / f"good{suffix}"
    save_state_dict(good, model)
    truncated = tmp_path / f"cut{suffix}"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / f"junk{suffix}"
    garbage.write_bytes(b"\x00garbage" * 10)
    for path in (truncated, garbage):
        with pytest.raises(CheckpointError, match=path.name):
            load_state_dict(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_state_dict(tmp_path / f"missing{suffix}")


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch ran-code",))


def test_pickled_code_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"weight": _Payload()}, "evil.pt")
    model = torch.nn.Linear(3, 2)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), None, device="cpu")
    with pytest.raises(CheckpointError, match=r"evil.pt"):
        runner.load_model("evil.pt")
    assert not (tmp_path / "ran-code").exists()


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "best.safetensors"
    model = torch.nn.Linear(3, 2)
    save_checkpoint(path, model, {"v": 1})
    import trainlab.engine.checkpoint as checkpoint

    def crash(state, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, torch.nn.Linear(3, 2), {"v": 2})
    assert load_checkpoint(path)[1] == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["best.safetensors"]


def test_a_file_that_is_not_a_torch_save_file_is_refused_without_torchs_advice(tmp_path):

    path = tmp_path / "weights.pth"
    path.write_bytes(b"garbage, not a pickle")
    with pytest.raises(CheckpointError) as refused:
        load_state_dict(path)
    message = str(refused.value)
    assert "could not be loaded as weights" in message and "Unsupported operand" in message
    assert "weights_only` set to `False`" not in message  # never advise running the file's code
