"""Model zoo. `ls models/` lists the families; machinery lives in the underscore modules."""
from . import cnn, fastcnn, inception, mlp, resnet, rnn, tabular, vgg  # noqa: F401  (registering imports)
from ._options import ModelOptionError
from ._registry import (
    ModelInputError,
    check_model_options,
    create_model,
    example_input,
    get_model_entry,
    is_known_model,
    list_models,
    model_options,
    register_model,
)
from ._transfer import (
    WeightsError,
    freeze_backbone,
    head_module,
    load_weights,
    published_state_dict,
    read_weights_file,
    split_head_parameters,
    torchvision_counterpart,
    weights_preprocessing,
)
from .resnet import (
    ResBlock,
    ResNet,
    ResNet18,
    load_torchvision_resnet18_weights,
    to_torchvision_resnet18_weights,
)
from .torchvision_zoo import is_torchvision_model, list_torchvision_models

__all__ = [
    "create_model", "list_models", "model_options", "register_model", "get_model_entry",
    "check_model_options", "example_input", "ModelOptionError", "ModelInputError", "is_known_model",
    "list_torchvision_models", "is_torchvision_model",
    "ResNet", "ResNet18", "ResBlock", "load_torchvision_resnet18_weights",
    "to_torchvision_resnet18_weights", "WeightsError", "freeze_backbone", "head_module",
    "load_weights", "published_state_dict", "read_weights_file", "split_head_parameters",
    "torchvision_counterpart", "weights_preprocessing",
]
