"""Model summaries: seed 001's ResNet-18 figures, torchinfo against PyTorch's own counter,
every registered model, any batch, and `trainlab summary` for names and runs."""
import json
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from trainlab.analysis import count_macs, summarize, summarize_model, summarize_run
from trainlab.cli.main import main
from trainlab.models import create_model, list_models


def test_resnet18_matches_seed_001():
    # Seed 001 (torchsummary/torchstat): 11,175,434 parameters; 35.4 M MACs for 1x32x32.
    summary = summarize_model("resnet18", (1, 32, 32))
    assert summary.parameters == 11_175_434
    assert summary.trainable_parameters == 11_175_434 and summary.frozen_parameters == 0
    assert math.isclose(summary.macs_per_input, 35.4e6, rel_tol=0.01)
    assert summary.flops_per_input == 2 * summary.macs_per_input
    assert summary.parameter_bytes == 4 * 11_175_434  # float32
    assert summary.layers[0].name == "net.0.0" and summary.layers[0].type == "Conv2d"
    assert summary.layers[-1].output_shape == [1, 10]


@pytest.mark.parametrize("name", list_models("image"))
def test_conv_and_linear_macs_match_pytorch_flop_counter(name):
    """torchinfo's conv/linear MACs, less the bias adds (PyTorch's counter counts the products
    alone), equal FlopCounterMode's FLOPs / 2 exactly; the total is within 1.5% (biases and
    BatchNorm). Every registered model, batch 2, 3x32x32 (VGG needs at least 32)."""
    model = create_model(name, in_channels=3, num_classes=10, input_size=(32, 32)).eval()
    summary = summarize(model, (3, 32, 32), batch=2)
    assert summary.parameters == sum(p.numel() for p in model.parameters()) > 0
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(2, 3, 32, 32))
    reference_macs = counter.get_total_flops() // 2
    products = 0
    for layer in summary.layers:
        if layer.type.startswith("Conv") or layer.type == "Linear":
            has_bias = model.get_submodule(layer.name).bias is not None
            products += layer.macs - (math.prod(layer.output_shape) if has_bias else 0)
    assert products == reference_macs
    assert math.isclose(summary.macs, reference_macs, rel_tol=0.015)
    assert summary.macs == sum(layer.macs for layer in summary.layers)


@pytest.mark.parametrize("batch", [1, 5])
def test_batch_scales_shapes_macs_and_activations(batch):
    one = summarize_model("cnn-small", (1, 28, 28))
    many = summarize_model("cnn-small", (1, 28, 28), batch=batch)
    assert many.macs_per_input == one.macs_per_input
    assert many.macs == batch * one.macs and many.flops == 2 * many.macs
    assert many.activation_bytes == batch * one.activation_bytes > 0
    assert all(layer.output_shape[0] == batch for layer in many.layers)
    assert many.parameters == one.parameters


def test_frozen_parameters_are_counted_apart_and_mode_is_kept():
    model = create_model("cnn-small", in_channels=1, num_classes=10, input_size=(28, 28))
    first = next(model.parameters())
    first.requires_grad_(False)
    model.train()
    summary = summarize(model, (1, 28, 28))
    assert summary.frozen_parameters == first.numel()
    assert summary.trainable_parameters == sum(p.numel() for p in model.parameters()) - first.numel()
    assert model.training


def test_table_and_dict_forms():
    summary = summarize_model("mlp", (1, 8, 8), num_classes=3, options={"hidden": [4]}, batch=2)
    table = str(summary)
    assert "mlp: input 1x8x8, batch 2" in table
    assert "parameters: 275 (trainable 275, frozen 0)" in table  # 64*4+4 + 4*3+3
    assert "Linear" in table and "2x3" in table
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["parameters"] == 275 and data["macs"] == 2 * data["macs_per_input"] == 2 * 275
    assert [layer["type"] for layer in data["layers"]].count("Linear") == 2


def test_cli_summary_of_a_model(capsys):
    assert main(["summary", "resnet18", "--input", "1x32x32", "--batch", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parameters"] == 11_175_434 and data["batch"] == 4
    assert data["macs"] == 4 * data["macs_per_input"]
    assert main(["summary", "mlp", "--input", "1x8x8", "--option", "hidden=[4]",
                 "--num-classes", "3"]) == 0
    assert "parameters: 275 " in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["summary", "mlp"], "--input is needed"),
    (["summary", "mlp", "--input", "1x8x8", "--option", "hidden=maybe"], "hidden"),
    (["summary", "vgg16", "--input", "1x16x16"], "at least 32"),
    (["summary", "no-such-model"], "neither a model"),
])
def test_cli_summary_refuses_with_one_sentence(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_summary_of_a_run_and_its_results_macs(tiny_runs, capsys):
    run = tiny_runs["dev"]
    summary = summarize_run(run, batch=3)
    assert summary.model == "mlp" and summary.input_shape == [3, 16, 16] and summary.batch == 3
    assert summary.layers[-1].output_shape == [3, 3]  # three classes
    results = json.loads((run / "results.json").read_text())
    assert results["macs"] == summary.macs_per_input == count_macs(
        create_model("mlp", in_channels=3, num_classes=3, input_size=(16, 16), hidden=[8]),
        (3, 16, 16))
    assert results["parameters"] == summary.parameters
    assert main(["summary", str(run)]) == 0
    assert f"parameters: {summary.parameters:,}" in capsys.readouterr().out
    assert main(["summary", str(run), "--input", "1x8x8"]) == 2
