"""Every registered model: builds, runs forward and backward, and trains a step."""
import pytest
import torch
import torch.nn.functional as F

from trainlab.models import (
    ResNet18,
    create_model,
    list_models,
    load_torchvision_resnet18_weights,
    model_options,
    register_model,
)

SHAPES = [(1, (28, 28)), (3, (32, 32))]


@pytest.mark.parametrize("name", list_models("image"))
@pytest.mark.parametrize("in_channels,input_size", SHAPES)
def test_every_model_trains_a_step(name, in_channels, input_size):
    if name == "vgg16" and min(input_size) < 32:
        pytest.skip("VGG halves the image 5 times: needs >= 32 px (checked below)")
    model = create_model(name, in_channels=in_channels, num_classes=7, input_size=input_size)
    x, y = torch.randn(4, in_channels, *input_size), torch.randint(0, 7, (4,))
    logits = model(x)
    assert logits.shape == (4, 7) and torch.isfinite(logits).all()
    features = model.forward_features(x)
    torch.testing.assert_close(model.forward_head(features), logits)
    assert model.num_classes == 7
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    F.cross_entropy(model(x), y).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_resnet18_parameter_count_matches_seed_001_torchstat():
    # Seed 001's torchstat table: "Total params: 11,175,434" for in_channels=1, 10 classes.
    model = create_model("resnet18", in_channels=1, num_classes=10, input_size=(32, 32))
    assert sum(p.numel() for p in model.parameters()) == 11_175_434


def test_resnet18_seed_001_shapes_for_1x32x32():
    model = create_model("resnet18", in_channels=1, num_classes=10, input_size=(32, 32)).eval()
    x = torch.randn(2, 1, 32, 32)
    shapes = []
    for module in model.net:
        x = module(x)
        shapes.append(tuple(x.shape[1:]))
    # The torchsummary table: 64x8x8 after module one, then 64x8x8, 128x4x4, 256x2x2, 512x1x1.
    assert shapes[:5] == [(64, 8, 8), (64, 8, 8), (128, 4, 4), (256, 2, 2), (512, 1, 1)]


def test_use_residual_switch_changes_outputs_not_parameters():
    torch.manual_seed(0)
    with_res = create_model("resnet18", in_channels=1, input_size=(32, 32)).eval()
    without = create_model("resnet18", in_channels=1, input_size=(32, 32), use_residual=False)
    without.load_state_dict(with_res.state_dict())
    x = torch.randn(2, 1, 32, 32)
    assert not torch.allclose(with_res(x), without.eval()(x))


def test_fastcnn_pool_first_is_the_same_function_where_batch_norm_scales_up():
    """conv, pool, BN, ReLU against conv, BN, ReLU, pool, same weights and running statistics:
    equal in evaluation while every BN scale is positive (the max commutes with an increasing
    per-channel map), different once one is negative. Pooling first is fastcnn's speed option."""
    torch.manual_seed(0)
    options = dict(in_channels=1, num_classes=10, input_size=(28, 28), widths=(8, 16, 16))
    plain = create_model("fastcnn", **options)
    plain.train()(torch.randn(32, 1, 28, 28))  # running statistics that are not the defaults
    pooled_first = create_model("fastcnn", **options, pool_first=True)
    assert [type(m).__name__ for m in pooled_first.features[:4]] == \
        ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"]
    for norm in (m for m in plain.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        norm.weight.data.abs_().add_(0.1)
    # The same modules in a different order: the state dict's values line up, its keys do not.
    pooled_first.load_state_dict(dict(zip(pooled_first.state_dict(), plain.state_dict().values())))
    x = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(pooled_first.eval()(x), plain.eval()(x))
    plain.features[1].weight.data[0] = -1.0  # the stem's first BN scale
    pooled_first.load_state_dict(dict(zip(pooled_first.state_dict(), plain.state_dict().values())))
    assert not torch.allclose(pooled_first(x), plain(x))


def test_cifar_stem_keeps_resolution():
    model = create_model("resnet18", in_channels=3, input_size=(32, 32), stem="cifar")
    assert model.net[0](torch.randn(1, 3, 32, 32)).shape[-2:] == (32, 32)


def test_torchvision_resnet18_weights_give_identical_outputs():
    """Seed 001 section 5.4.4: the library's resnet18 and the course's, same weights, same output."""
    import torchvision

    reference = torchvision.models.resnet18(num_classes=1000).eval()
    ours = ResNet18(in_channels=3, num_classes=1000).eval()
    load_torchvision_resnet18_weights(ours, reference.state_dict())
    x = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=1e-5)


def test_unknown_option_is_refused_with_the_accepted_ones():
    with pytest.raises(TypeError, match=r"does not take option.*accepts: use_residual, stem"):
        create_model("resnet18", use_residal=False)
    assert model_options("fc2") == {"n_hidden": 8}


def test_duplicate_registration_is_an_error():
    with pytest.raises(ValueError, match="registered twice"):
        register_model("cnn")(lambda **kw: None)


def test_vgg_rejects_too_small_images_clearly():
    with pytest.raises(ValueError, match=r"at least 32 pixels.*--image-size"):
        create_model("vgg16", in_channels=1, input_size=(28, 28))


def test_images_too_small_for_the_layers_are_one_sentence():
    from trainlab.models import ModelInputError

    with pytest.raises(ModelInputError, match=r"model 'cnn' cannot take 1x4x4 images .*--image-size"):
        create_model("cnn", in_channels=1, num_classes=10, input_size=(4, 4))
    create_model("cnn", in_channels=1, num_classes=10, input_size=(28, 28))  # the usual size fits


def test_training_with_images_too_small_stops_before_the_run_directory(tmp_path):
    from cli_process import run_trainlab
    from fake_data import make_image_folder

    make_image_folder(tmp_path / "tiny", classes=("a", "b"), per_class=6, size=6)
    done = run_trainlab("train", "--model", "cnn", "--data", f"folder:{tmp_path / 'tiny'}",
                        "--out", str(tmp_path / "run"))
    assert done.returncode == 2, done.stderr
    assert "cannot take 3x6x6 images" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()
