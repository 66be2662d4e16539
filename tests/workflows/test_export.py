"""trainlab export: ONNX, TorchScript and bundle, each checked for parity; predict from all three."""
import json
import sys

import pytest
import torch

from fake_data import make_image_folder
from trainlab import load_bundle
from trainlab.cli.main import main
from trainlab.models import create_model, list_models
from trainlab.workflows import ExportError, load_predictor
from trainlab.workflows import export as export_module
from trainlab.workflows.export import MAX_ABS_DIFF, compare_logits, export_model

FORMATS = ("onnx", "torchscript", "bundle")
FILES = {"onnx": "model.onnx", "torchscript": "model.pt", "bundle": "bundle"}


def metadata(name, channels, size, classes=("a", "b")):
    """What a run's checkpoint says about its model (checkpoint_metadata's keys)."""
    return {"model": name, "model_options": {}, "in_channels": channels,
            "num_classes": len(classes), "input_size": list(size), "class_names": list(classes),
            "preprocessing": {"channels": channels, "image_size": list(size),
                              "mean": [0.5] * channels, "std": [0.25] * channels}}


# trainlab's own models at the smallest size each takes (VGG halves 5 times: 32 px), and one
# of torchvision's through the adapter (tv:mobilenet_v3_small alone took 13.5 s for ONNX on the
# loaded 2-core machine; the adapter builds every tv: model the same way).
MODELS = [(name, 3 if name == "vgg16" else 1, (32, 32) if name == "vgg16" else (16, 16))
          for name in list_models("image")] + [("tv:resnet18", 3, (32, 32))]


@pytest.mark.parametrize("name,channels,size", MODELS)
def test_every_model_exports_to_every_format_with_parity(name, channels, size, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, in_channels=channels, num_classes=2, input_size=size).eval()
    meta = metadata(name, channels, size)
    images = torch.randn(5, channels, *size)  # 5: not the exported example batch of 2
    for format in FORMATS:
        result = export_model(model, meta, images, format, tmp_path / FILES[format])
        assert result.passed and result.samples == 5 and result.max_abs_diff <= MAX_ABS_DIFF
        beside = tmp_path / (FILES[format] + "/model.json" if format == "bundle" else "model.json")
        assert json.loads(beside.read_text())["parity"]["top1_agree"] == 5


def test_parity_check_compares_logits_and_top1():
    reference = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    assert compare_logits(reference, reference + 5e-5, "p", "onnx").passed
    assert not compare_logits(reference, reference + 2e-4, "p", "onnx").passed
    swapped = compare_logits(reference, torch.tensor([[2.0, 1.0], [3.0, 0.0]]), "p", "onnx")
    assert swapped.top1_agree == 1 and not swapped.passed
    large = torch.tensor([[8.6e4, -8e4]])  # fp32 rounding grows with the logits' size
    assert compare_logits(large, large + 3.5e-2, "p", "onnx").limit == pytest.approx(8.6e-2)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    make_image_folder(root / "pets", classes=("cat", "dog"), per_class=16, size=16)
    run = root / "run"
    assert main(["train", "--model", "cnn-small", "--data", f"folder:{root / 'pets'}", "--out",
                 str(run), "--epochs", "2", "--batch-size", "8", "--log-steps", "0"]) == 0
    return root, run


def test_export_cli_checks_parity_on_the_runs_images_and_predict_agrees(run, capsys):
    root, run_dir = run
    capsys.readouterr()
    for format in FORMATS:
        assert main(["export", str(run_dir), "--format", format]) == 0
        line = capsys.readouterr().out.strip()
        assert line.startswith("parity on 6 test images of the run: max |logit difference| ")
        assert "top-1 identical for 6/6" in line
    export = run_dir / "export"
    info = json.loads((export / "bundle" / "model.json").read_text())
    assert info["architecture"] == "cnn-small" and info["class_names"] == ["cat", "dog"]
    assert info["input"]["channels"] == 3 and info["input"]["size"] == [16, 16]
    assert len(info["input"]["mean"]) == 3 and info["trainlab_version"]
    assert info["data"] == "folder:pets"  # named, not where its files were
    images = [root / "pets" / "cat", root / "pets" / "dog" / "3.png"]
    outputs = {}
    for source in (run_dir, export / "bundle", export / "model.onnx"):
        assert main(["predict", str(source), *map(str, images), "--top-k", "2"]) == 0
        outputs[source.name] = capsys.readouterr().out.splitlines()
    run_lines, bundle_lines, onnx_lines = outputs.values()
    assert len(run_lines) == 17 and run_lines == bundle_lines
    # onnxruntime rounds differently in the last digits; the ranked classes are the same.
    names = [[part.split(" ")[0] for part in line.split(": ", 1)[1].split(", ")]
             for line in run_lines]
    assert names == [[part.split(" ")[0] for part in line.split(": ", 1)[1].split(", ")]
                     for line in onnx_lines]


def test_export_without_the_runs_data_checks_parity_on_random_images(run, tmp_path, capsys):
    """The data moved away (or the run was copied to another machine): the export is still made
    and checked against the checkpoint, on random images of its shape, and says so."""
    root, run_dir = run
    (root / "pets").rename(root / "pets-moved")
    try:
        assert main(["export", str(run_dir), "--format", "torchscript",
                     "--out", str(tmp_path / "model.pt")]) == 0
        out = capsys.readouterr().out
        assert f"note: the run's data cannot be read here (folder data set {root / 'pets'}" in out
        assert "parity is checked on 32 random images instead" in out
        assert "parity on 32 random images (the run's data is not here): max |logit difference|" in out
        assert "top-1 identical for 32/32" in out and (tmp_path / "model.pt").is_file()
    finally:
        (root / "pets-moved").rename(root / "pets")


def test_load_bundle_and_load_predictor_need_nothing_of_the_run(run, tmp_path):
    _, run_dir = run
    assert main(["export", str(run_dir), "--format", "bundle", "--out", str(tmp_path / "b")]) == 0
    (run_dir / "config.yaml").rename(tmp_path / "config.yaml")  # the run is gone
    try:
        model = load_bundle(tmp_path / "b")
        assert model.class_names == ["cat", "dog"] and not model.training
        assert model(torch.zeros(1, 3, 16, 16)).shape == (1, 2)
        predictor = load_predictor(tmp_path / "b")
        assert predictor.kind == "bundle"
        assert len(predictor.top_k(torch.zeros(3, 3, 16, 16, dtype=torch.uint8), 1)) == 3
    finally:
        (tmp_path / "config.yaml").rename(run_dir / "config.yaml")


def test_a_failed_parity_check_fails_the_command_and_removes_the_file(run, monkeypatch,
                                                                       capsys):
    _, run_dir = run

    def load_other_weights(path, device="cpu"):  # as if the weights did not survive the trip
        model = real_load_bundle(path, device)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.mul_(1.5)
        return model

    real_load_bundle = export_module.load_bundle
    monkeypatch.setattr(export_module, "load_bundle", load_other_weights)
    out = run_dir / "bad-bundle"
    assert main(["export", str(run_dir), "--format", "bundle", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the bundle export does not match the checkpoint" in err and "removed" in err
    assert not out.exists()


def test_onnx_without_its_packages_says_which_to_install(run, monkeypatch, capsys):
    _, run_dir = run
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if not installed
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(run_dir / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "--format onnx needs the package(s) onnxscript: pip install onnxscript" in err
    assert not (run_dir / "x.onnx").exists()


def test_predict_refuses_what_is_not_a_run_bundle_or_onnx(tmp_path, capsys):
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    assert main(["predict", str(tmp_path / "model.onnx"), str(tmp_path)]) == 2
    assert "model.json is missing" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), str(tmp_path)]) == 2
    assert "is not a run directory (config.yaml), a bundle folder" in capsys.readouterr().err
    with pytest.raises(ExportError, match="not one of"):
        export_module.export_run(tmp_path, "tflite")


def test_a_broken_onnx_file_is_one_sentence(run, tmp_path, capsys):
    _root, run_dir = run
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    (tmp_path / "m.onnx").write_bytes(b"garbage, not a model")  # model.json beside it is fine
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.onnx"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "m.onnx cannot be run as an ONNX model" in err and "export the run again" in err
    assert "traceback" not in err.lower()
