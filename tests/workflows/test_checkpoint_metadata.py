"""Hostile or foreign checkpoints: the JSON inside is checked before anything is built from it,
and a resume.pt that loads but does not fit the model is passed over for resume-prev.pt."""
import json

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from trainlab.cli.main import main
from trainlab.engine import CheckpointError, Runner
from trainlab.models import create_model
from trainlab.workflows import TrainConfig
from trainlab.workflows.resume import PREVIOUS, RESUME, ResumeCheckpointer, load_resume_checkpoint


def good_metadata():
    return {"format": "trainlab-checkpoint-1", "model": "mlp", "model_options": {"hidden": [6]},
            "in_channels": 1, "num_classes": 3, "input_size": [8, 8],
            "class_names": ["a", "b", "c"],
            "preprocessing": {"channels": 1, "image_size": [8, 8], "mean": [0.5], "std": [0.2]},
            "data": "folder:x"}


def write_run(root, metadata_text, state=None):
    """A run directory whose best.safetensors carries `metadata_text` as its trainlab JSON."""
    root.mkdir(parents=True, exist_ok=True)
    TrainConfig(model="mlp", data="digits").save(root / "config.yaml")
    if state is None:
        model = create_model("mlp", in_channels=1, num_classes=3, input_size=(8, 8), hidden=[6])
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(root / "best.safetensors"), metadata={"trainlab": metadata_text})
    Image.new("L", (8, 8), 100).save(root / "image.png")
    return root


def changed(**values):
    meta = good_metadata()
    meta.update(values)
    return json.dumps(meta)


HOSTILE = {
    "unregistered-model": (changed(model="alexnet"), "its model 'alexnet' is not one trainlab has"),
    "wrong-type": (changed(in_channels="1"), "in_channels must be a whole number"),
    "bool-for-int": (changed(num_classes=True), "num_classes must be a whole number"),
    "unknown-option": (changed(model_options={"depth": 3}), "has no option(s) depth"),
    "option-type": (changed(model_options={"hidden": "abc"}), "option hidden must be a list"),
    "huge-option": (changed(model_options={"hidden": [10**9]}), "option hidden must be a list"),
    "absurd-input-size": (changed(input_size=[100000, 100000]), "input_size must be"),
    "absurd-class-count": (changed(num_classes=10**9), "num_classes must be a whole number"),
    "thousands-of-names": (changed(num_classes=3, class_names=[f"c{i}" for i in range(50000)]),
                           "class_names must be a list of at most"),
    "names-disagree": (changed(class_names=["a", "b"]), "2 class names for 3 classes"),
    "deeply-nested": ('{"model": ' + "[" * 100000 + "]" * 100000 + "}",
                      "its metadata is not valid JSON"),
    "not-json": ("{model: mlp", "its metadata is not valid JSON"),
    "not-an-object": ("[1, 2]", "not a JSON object"),
    "no-metadata": ("{}", "no trainlab metadata"),
    "bad-std": (changed(preprocessing={"channels": 1, "image_size": [8, 8], "mean": [0.5],
                                       "std": [0.0]}), "preprocessing std"),
    "too-small-for-model": (json.dumps({**good_metadata(), "model": "cnn", "model_options": {},
                                        "input_size": [2, 2], "preprocessing": {
                                            "channels": 1, "image_size": [2, 2], "mean": [0.5],
                                            "std": [0.2]}}),
                            "describes a model that cannot be built"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_metadata_gets_one_message_naming_the_file(tmp_path, case, capsys):
    text, words = HOSTILE[case]
    run = write_run(tmp_path / case, text)
    for argv in (["predict", str(run), str(run / "image.png")], ["evaluate", str(run)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert f"{run / 'best.safetensors'} cannot be used" in err or \
               f"{run / 'best.safetensors'}: " in err, err
        assert words in err, err


def test_weights_that_do_not_fit_the_described_model_are_refused(tmp_path, capsys):
    other = create_model("mlp", in_channels=1, num_classes=5, input_size=(8, 8), hidden=[6])
    run = write_run(tmp_path / "r", json.dumps(good_metadata()), state=other.state_dict())
    assert main(["predict", str(run), str(run / "image.png")]) == 2
    err = capsys.readouterr().err
    assert "weights do not fit the 'mlp' model" in err and str(run / "best.safetensors") in err


def test_good_metadata_still_predicts(tmp_path, capsys):
    run = write_run(tmp_path / "r", json.dumps(good_metadata()))
    assert main(["predict", str(run), str(run / "image.png")]) == 0
    assert "image.png: " in capsys.readouterr().out


def small_runner(classes):
    model = torch.nn.Linear(3, classes)
    return Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), None, device="cpu",
                  progress=False)


def test_resume_checkpoint_that_does_not_fit_falls_back_to_the_previous_one(tmp_path):
    checkpointer = ResumeCheckpointer(tmp_path, {}, every_steps=1)
    fitting = small_runner(2)
    fitting.global_step = 7
    checkpointer.save(fitting, None)
    checkpointer.save(small_runner(5), None)  # loads fine, but a 5-class head
    assert (tmp_path / PREVIOUS).exists()
    target, said = small_runner(2), []
    state = load_resume_checkpoint(tmp_path, said.append,
                                   apply=lambda s: target.load_training_state(s))
    assert state["global_step"] == 7 and target.global_step == 7
    assert f"{tmp_path / RESUME} does not fit this run" in said[0]
    assert "falling back to" in said[0] and PREVIOUS in said[0]
    assert torch.equal(target.model.weight, fitting.model.weight)

    checkpointer.save(small_runner(5), None)  # now neither fits
    with pytest.raises(CheckpointError, match="no usable resume checkpoint"):
        load_resume_checkpoint(tmp_path, said.append,
                               apply=lambda s: small_runner(2).load_training_state(s))
