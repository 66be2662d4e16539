"""--permute-pixels (seed 002's experiment) and --limit-test, from create_dataset to predict; the
model options the experiments added (mlp activation, resnet-stack)."""
import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from fake_data import make_idx_dataset
from trainlab.cli.main import main
from trainlab.data import create_dataset
from trainlab.data.transforms import normalize, permute_pixels, pixel_permutation
from trainlab.models import create_model
from trainlab.workflows import load_run_model, predict_files


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("permute")
    make_idx_dataset(folder / "MNIST" / "raw", n_train=40, n_test=12)
    return folder


def test_one_fixed_permutation_for_every_split(data_dir):
    plain = create_dataset("mnist", data_dir=data_dir)
    shuffled = create_dataset("mnist", data_dir=data_dir, permute_pixels=5)
    again = create_dataset("mnist", data_dir=data_dir, permute_pixels=5)
    order = pixel_permutation(5, 28, 28)
    assert sorted(order.tolist()) == list(range(784)) and order.tolist() != list(range(784))
    for split in ("train", "dev", "test"):
        original, moved = getattr(plain, split).images, getattr(shuffled, split).images
        assert torch.equal(moved.flatten(2), original.flatten(2)[..., order])  # the same order
        assert torch.equal(moved, getattr(again, split).images)  # from the seed alone
        assert torch.equal(getattr(plain, split).labels, getattr(shuffled, split).labels)
    assert shuffled.mean == plain.mean and shuffled.std == plain.std
    assert shuffled.preprocessing()["permute_pixels"] == 5
    assert "permute_pixels" not in plain.preprocessing()
    assert not torch.equal(pixel_permutation(6, 28, 28), order)


def test_limit_test_keeps_the_first_images_and_says_so(data_dir):
    full = create_dataset("mnist", data_dir=data_dir)
    cut = create_dataset("mnist", data_dir=data_dir, limit_test=5)
    assert torch.equal(cut.test.images, full.test.images[:5])
    assert "--limit-test 5: scoring on 5 of 12 test images" in cut.notes


def test_permuted_run_evaluates_and_predicts_on_permuted_images(data_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "fc2", "--data", "mnist", "--data-dir", str(data_dir),
                 "--permute-pixels", "3", "--limit-test", "8", "--epochs", "2",
                 "--log-steps", "0", "--out", str(run)]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["data_sizes"]["test"] == 8
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0  # the same shuffled images, so no data change
    out = capsys.readouterr().out
    assert f"test accuracy: {results['test_accuracy']:.4f}" in out and "changed" not in out

    # A user's image is the unshuffled picture: predict shuffles it as training did.
    data = create_dataset("mnist", data_dir=data_dir)
    image = data.test.images[0]
    Image.fromarray(image[0].numpy()).save(tmp_path / "digit.png")
    (prediction,), problems = predict_files(run, [tmp_path / "digit.png"], top_k=1)
    assert not problems
    model, meta = load_run_model(run)
    prep = meta["preprocessing"]
    shuffled = permute_pixels(image, pixel_permutation(3, 28, 28))
    with torch.no_grad():
        expected = model(normalize(shuffled[None], prep["mean"], prep["std"])).softmax(1)[0]
    assert prediction.probabilities[0] == pytest.approx(expected.max().item(), abs=1e-5)
    assert prediction.classes[0] == meta["class_names"][int(expected.argmax())]


def test_bad_permute_pixels_and_depth_are_one_sentence(data_dir, capsys):
    assert main(["train", "--data", "mnist", "--data-dir", str(data_dir),
                 "--permute-pixels", "-1"]) == 2
    assert "--permute-pixels (permute_pixels) must be a whole number >= 0" in \
        capsys.readouterr().err
    assert main(["train", "--model", "resnet-stack", "--option", "depth=10", "--data", "mnist",
                 "--data-dir", str(data_dir)]) == 2
    assert "depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, ...), got 10" in \
        capsys.readouterr().err


def test_mlp_activation_option():
    sigmoid = create_model("mlp", in_channels=1, num_classes=10, input_size=(28, 28),
                           activation="sigmoid")
    kinds = {type(m) for m in sigmoid.modules()}
    assert nn.Sigmoid in kinds and nn.ReLU not in kinds
    relu = create_model("mlp", in_channels=1, num_classes=10, input_size=(28, 28))
    assert sum(isinstance(m, nn.ReLU) for m in relu.modules()) == 4


@pytest.mark.parametrize("depth", [8, 32])
def test_resnet_stack_depth_counts_weighted_layers(depth):
    model = create_model("resnet-stack", in_channels=1, num_classes=10, input_size=(28, 28),
                         depth=depth, width=8, use_residual=False)
    # 3x3 convs on the main path plus the linear head: 1 + 6 n + 1 = depth.
    main_path = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(main_path) + 1 == depth
    out = model(torch.from_numpy(np.zeros((2, 1, 28, 28), np.float32)))
    assert out.shape == (2, 10)
