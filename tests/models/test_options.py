"""Model options are checked against each builder's declared types before anything is built."""
import pytest

from trainlab.models import ModelOptionError, check_model_options, create_model


@pytest.mark.parametrize("model,given,expected", [
    ("resnet18", {"use_residual": "no", "stem": "cifar"}, {"use_residual": False, "stem": "cifar"}),
    ("resnet18", {"use_residual": "TRUE"}, {"use_residual": True}),
    ("resnet18", {"use_residual": 0}, {"use_residual": False}),
    ("resnet18", {"use_residual": False}, {"use_residual": False}),  # typed YAML stays as it is
    ("mlp", {"hidden": "[16, 8]"}, {"hidden": [16, 8]}),
    ("mlp", {"hidden": "16,8"}, {"hidden": [16, 8]}),
    ("mlp", {"hidden": "32"}, {"hidden": [32]}),
    ("mlp", {"hidden": (4, 2)}, {"hidden": [4, 2]}),
    ("fc2", {"n_hidden": "12"}, {"n_hidden": 12}),
    ("vgg16", {"cfg": "seed002"}, {"cfg": "seed002"}),
    ("vgg16", {"cfg": "vgg11"}, {"cfg": "vgg11"}),
    ("fastcnn", {"widths": "[4,8,8]"}, {"widths": [4, 8, 8]}),
])
def test_option_values_become_their_declared_types(model, given, expected):
    assert check_model_options(model, given) == expected


@pytest.mark.parametrize("model,given,message", [
    ("resnet18", {"use_residual": "maybe"}, "use_residual to be true or false"),
    ("resnet18", {"use_residual": "on"}, "use_residual to be true or false"),
    ("resnet18", {"use_residual": 2}, "use_residual to be true or false"),
    ("resnet18", {"stem": "cifarr"}, "stem to be one of imagenet, cifar"),
    ("mlp", {"hidden": "abc"}, "hidden to be a list of whole numbers"),
    ("mlp", {"hidden": "[1.5]"}, "hidden to be a list of whole numbers"),
    ("fc2", {"n_hidden": "2.5"}, "n_hidden to be a whole number"),
    ("vgg16", {"cfg": "vgg19"}, "cfg to be one of vgg16, vgg11, seed002"),
    ("fastcnn", {"widths": "[4,8]"}, "widths to be a list of 3 whole numbers"),
    ("cnn", {"depth": 3}, "has no option(s) depth"),
])
def test_bad_option_values_are_refused_naming_the_option(model, given, message):
    with pytest.raises(ModelOptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_model_options(model, given)


def test_create_model_checks_option_values_too():
    with pytest.raises(ModelOptionError, match="stem"):
        create_model("resnet18", in_channels=1, num_classes=2, input_size=(32, 32), stem="cifarr")
