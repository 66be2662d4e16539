"""--pretrained, --weights, --freeze backbone and --fine-tune from the command line, offline:
a generated two-class folder and torchvision state dicts saved to disk by the test."""
import urllib.error

import pytest
import torch
import torchvision
import yaml
from safetensors.torch import load_file

from fake_data import make_image_folder
from trainlab.cli.main import main
from trainlab.models import published_state_dict
from trainlab.models._transfer import cached_weights_file, published_weights

TINY = ["--image-size", "32", "--batch-size", "16", "--log-steps", "0", "--lr", "0.05"]


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    make_image_folder(root / "pets", classes=("cat", "dog"), per_class=20, size=16)
    make_image_folder(root / "grey", classes=("cat", "dog"), per_class=20, size=16, mode="L")
    return root


def test_freeze_backbone_trains_only_the_head(pets, tmp_path, capsys):
    torch.manual_seed(3)
    start = torchvision.models.resnet18(num_classes=2).state_dict()  # a 'trained' 2-class model
    torch.save(start, tmp_path / "start.pth")
    run = tmp_path / "run"
    assert main(["train", "--model", "tv:resnet18", "--weights", str(tmp_path / "start.pth"),
                 "--freeze", "backbone", "--data", f"folder:{pets / 'pets'}", "--epochs", "2",
                 "--out", str(run), *TINY]) == 0
    out = capsys.readouterr().out
    assert "--freeze backbone: training the head's 1,026 parameters" in out
    assert "the head's included (same classes)" in out
    trained = load_file(run / "last.safetensors")
    backbone = [k for k in start if not k.startswith("fc.")]
    assert all(torch.equal(trained[k], start[k]) for k in backbone)  # weights and BN statistics
    assert any("running_mean" in k for k in backbone) and any("num_batches" in k for k in backbone)
    assert not torch.equal(trained["fc.weight"], start["fc.weight"])
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["freeze"] == "backbone" and config["weights"] == str(tmp_path / "start.pth")
    # The checkpoint reloads and predicts.
    assert main(["predict", str(run), str(pets / "pets" / "dog"), "--top-k", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 20 and all(": cat " in line or ": dog " in line for line in lines)
    assert main(["evaluate", str(run)]) == 0


def torch_home_with(tmp_path, monkeypatch, model_name, state):
    """TORCH_HOME set to a cache holding `state` under the file name torchvision's weights API
    expects for `model_name`'s published weights."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    path = cached_weights_file(published_weights(model_name))
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return path


def test_pretrained_from_the_cache_fine_tunes_trainlab_resnet18(pets, tmp_path, monkeypatch,
                                                                  capsys):
    published = torchvision.models.resnet18().state_dict()  # stands in for ImageNet's
    path = torch_home_with(tmp_path, monkeypatch, "resnet18", published)
    assert path == tmp_path / "torch-home" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    run = tmp_path / "run"
    assert main(["train", "--model", "resnet18", "--pretrained", "--fine-tune",
                 "--data", f"folder:{pets / 'grey'}", "--epochs", "2", "--out", str(run),
                 *TINY]) == 0
    out = capsys.readouterr().out
    assert out.count("single-channel images repeated to 3 channels") == 1
    assert "new head for the data's classes (net.7.bias, net.7.weight)" in out
    assert "--fine-tune: the head alone for 1 epoch(s) at lr 0.05, then everything for 1 " \
           "epoch(s) at lr 0.005" in out
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["fine_tune"] is True and config["fine_tune_head_epochs"] == 1
    assert config["fine_tune_lr_factor"] == 0.1 and config["pretrained"] is True
    trained = load_file(run / "last.safetensors")
    assert trained["net.7.weight"].shape == (2, 512)
    # The second stage trained the backbone too.
    assert not torch.equal(trained["net.1.0.conv1.weight"], published["layer1.0.conv1.weight"])
    # ImageNet's mean/std and 3 channels are what predict uses on a grey image file.
    assert main(["predict", str(run), str(pets / "grey" / "cat" / "0.png")]) == 0


def test_pretrained_offline_without_the_file_names_it_and_where_to_put_it(pets, tmp_path,
                                                                          monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "urlopen", offline)  # no network, whatever the machine has
    code = main(["train", "--model", "tv:mobilenet_v3_small", "--pretrained", "--data",
                 f"folder:{pets / 'pets'}", "--out", str(tmp_path / "run"), *TINY])
    err = capsys.readouterr().err
    assert code == 2
    expected = tmp_path / "empty" / "hub" / "checkpoints" / "mobilenet_v3_small-047dcff4.pth"
    assert f"put it at {expected}" in err and "mobilenet_v3_small-047dcff4.pth is not in" in err
    assert "https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_published_state_dict_reads_the_cache_without_network(tmp_path, monkeypatch):
    state = torchvision.models.squeezenet1_0().state_dict()
    torch_home_with(tmp_path, monkeypatch, "tv:squeezenet1_0", state)
    monkeypatch.setattr(torch.hub, "urlopen", lambda *a, **k: pytest.fail("went online"))
    loaded = published_state_dict("tv:squeezenet1_0", echo=lambda *a: None)
    assert all(torch.equal(loaded[k], state[k]) for k in state)


@pytest.mark.parametrize("flags,message", [
    (["--freeze", "backbone"], "add --pretrained or --weights FILE"),
    (["--pretrained", "--model", "cnn"], "model 'cnn' has no published weights"),
    (["--weights", "missing.pth"], "--weights missing.pth: no such file"),
    (["--pretrained", "--fine-tune", "--epochs", "1"], "must be at least 1 and below --epochs"),
])
def test_transfer_settings_are_checked_before_anything_runs(pets, tmp_path, capsys, flags,
                                                             message):
    args = ["train", "--model", "tv:resnet18", "--data", f"folder:{pets / 'pets'}",
            "--out", str(tmp_path / "run"), *TINY, *flags]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_weights_file_that_is_not_a_state_dict_is_refused(pets, tmp_path, capsys):
    torch.save({"note": torch.tensor(1.0)}, tmp_path / "other.pth")
    code = main(["train", "--model", "tv:resnet18", "--weights", str(tmp_path / "other.pth"),
                 "--data", f"folder:{pets / 'pets'}", "--out", str(tmp_path / "run"), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and f"{tmp_path / 'other.pth'} does not fit model 'tv:resnet18'" in err
