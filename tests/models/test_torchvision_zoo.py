"""torchvision's models as tv:NAME, weight loading with a new head, and resnet18 weights both ways."""
import pytest
import torch
import torchvision

from trainlab.cli.main import main
from trainlab.models import (
    ResNet18,
    WeightsError,
    create_model,
    freeze_backbone,
    head_module,
    list_torchvision_models,
    load_torchvision_resnet18_weights,
    load_weights,
    to_torchvision_resnet18_weights,
)


def test_every_torchvision_classifier_is_listed_with_its_parameter_count(capsys):
    names = list_torchvision_models()
    assert {"tv:resnet18", "tv:vgg16", "tv:mobilenet_v3_small", "tv:vit_b_16"} <= set(names)
    assert len(names) == len(torchvision.models.list_models(module=torchvision.models))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "resnet18 " in out  # trainlab's own models first
    line = next(line for line in out.splitlines() if line.startswith("tv:resnet18 "))
    assert "11,689,512" in line  # torchvision's resnet18 with its 1000-class head
    assert sum(line.startswith("tv:") for line in out.splitlines()) == len(names)


@pytest.mark.parametrize("name,head", [("tv:mobilenet_v3_small", "classifier.3"),
                                       ("tv:squeezenet1_0", "classifier.1"),
                                       ("tv:resnet18", "fc")])
def test_torchvision_model_gets_a_head_for_the_data_classes(name, head):
    model = create_model(name, in_channels=3, num_classes=2, input_size=(32, 32)).eval()
    assert model.head_path == head and head_module(model) is model.get_submodule(head)
    assert model(torch.randn(3, 3, 32, 32)).shape == (3, 2)


def test_torchvision_model_refuses_one_channel_and_unknown_names():
    with pytest.raises(ValueError, match="3-channel"):
        create_model("tv:resnet18", in_channels=1, num_classes=2, input_size=(32, 32))
    with pytest.raises(KeyError, match="tv:NAME"):
        create_model("tv:no_such_net", in_channels=3, num_classes=2, input_size=(32, 32))


def randomise_batchnorm(model):
    """Running statistics far from their 0/1 start, so a mapping that drops one shows."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
    return model


def test_resnet18_weights_map_both_ways_with_identical_outputs():
    x = torch.randn(4, 3, 64, 64)
    # trainlab -> torchvision, with a trained (non-zero) stem bias torchvision does not have.
    ours = randomise_batchnorm(ResNet18(in_channels=3, num_classes=5)).eval()
    torch.nn.init.normal_(ours.net[0][0].bias)
    theirs = torchvision.models.resnet18(num_classes=5).eval()
    theirs.load_state_dict(to_torchvision_resnet18_weights(ours))
    assert (theirs(x) - ours(x)).abs().max() <= 1e-5
    # torchvision -> trainlab (the course's direction), from a fresh torchvision model.
    reference = randomise_batchnorm(torchvision.models.resnet18(num_classes=5)).eval()
    back = ResNet18(in_channels=3, num_classes=5).eval()
    load_torchvision_resnet18_weights(back, reference.state_dict())
    assert (back(x) - reference(x)).abs().max() <= 1e-5


def test_cifar_stem_does_not_map_to_torchvision():
    with pytest.raises(ValueError, match="stem=cifar"):
        to_torchvision_resnet18_weights(ResNet18(in_channels=3, stem="cifar"))


def test_load_weights_keeps_the_new_head_and_refuses_another_architecture():
    published = torchvision.models.resnet18().state_dict()  # 1000 classes
    model = create_model("resnet18", in_channels=3, num_classes=2, input_size=(32, 32))
    head_before = model.head.weight.detach().clone()
    said = load_weights(model, "resnet18", published, "file.pth")
    assert "new head" in said and "net.7.weight" in said
    assert torch.equal(model.head.weight, head_before)  # built for 2 classes, kept
    assert torch.equal(model.net[1][0].conv1.weight, published["layer1.0.conv1.weight"])
    with pytest.raises(WeightsError, match=r"file\.pth does not fit model 'tv:vgg11'"):
        load_weights(create_model("tv:vgg11", 3, 2, (32, 32)), "tv:vgg11", published, "file.pth")


def test_freeze_backbone_leaves_only_the_head_trainable():
    model = create_model("tv:resnet18", in_channels=3, num_classes=2, input_size=(32, 32))
    frozen, trainable = freeze_backbone(model)
    assert trainable == 512 * 2 + 2 and frozen == sum(p.numel() for p in model.parameters()) - trainable
    model.train()
    assert not model.bn1.training and model.fc.training  # frozen BatchNorm stays in eval mode
