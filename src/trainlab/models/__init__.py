"""Model zoo. `ls models/` lists the families; machinery lives in the underscore modules."""
from . import cnn, fastcnn, inception, mlp, resnet, rnn, tabular, vgg  # noqa: F401  (registering imports)
from ._options import ModelOptionError
from ._registry import (
    ModelInputError,
    check_model_options,
    create_model,
    example_input,
    get_model_entry,
    list_models,
    model_options,
    register_model,
)
from .resnet import ResBlock, ResNet, ResNet18, load_torchvision_resnet18_weights

__all__ = [
    "create_model", "list_models", "model_options", "register_model", "get_model_entry",
    "check_model_options", "example_input", "ModelOptionError", "ModelInputError",
    "ResNet", "ResNet18", "ResBlock", "load_torchvision_resnet18_weights",
]
