"""Every torchvision classification model as `tv:NAME` (tv:resnet18, tv:vgg16, tv:vit_b_16, ...).

One adapter, no per-model code: the names come from torchvision's own registry, the model is
torchvision's, built with `num_classes` set to the data's classes (so its head is already the
right size), and `head_path` names the head so freezing and weight loading find it. Published
weights stay torchvision's business (`weights.py` asks its weights API); nothing is downloaded
here.
"""
from __future__ import annotations

from functools import lru_cache

import torch.nn as nn
import torchvision

PREFIX = "tv:"

# Models whose constructor must know the image size (ViT's position embeddings, MaxViT's
# attention grids); every other torchvision classifier pools to a fixed size itself.
SIZE_ARGUMENT = {"vit": "image_size", "maxvit": "input_size"}


@lru_cache(maxsize=1)
def list_torchvision_models() -> list[str]:
    """`tv:NAME` for every classification model this torchvision has (no detection, video...)."""
    return [PREFIX + name for name in torchvision.models.list_models(module=torchvision.models)]


def is_torchvision_model(name: str) -> bool:
    return isinstance(name, str) and name in list_torchvision_models()


def torchvision_name(name: str) -> str:
    """tv:resnet18 -> resnet18."""
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def default_weights(name: str):
    """torchvision's recommended published weights for `tv:NAME` (an enum member; offline)."""
    return torchvision.models.get_model_weights(torchvision_name(name)).DEFAULT


def parameter_count(name: str) -> int:
    """Parameters with torchvision's 1000-class ImageNet head, from the weights' metadata (no
    model is built, so listing ~80 models is instant)."""
    return default_weights(name).meta["num_params"]


def summary(name: str) -> str:
    accuracy = default_weights(name).meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
    return (f"torchvision {torchvision_name(name)}: {parameter_count(name) / 1e6:.2f}M params with "
            "the 1000-class head" + (f"; ImageNet top-1 {accuracy:.1f}% with --pretrained"
                                     if accuracy else ""))


def find_head(model: nn.Module) -> str:
    """The name of the layer that maps features to classes: the last Linear, or SqueezeNet's
    final 1x1 convolution (it has no Linear). Auxiliary heads (GoogLeNet, Inception v3) are
    switched off before this is asked."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        convolutions = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        last = convolutions[-1]
    return last


def build_torchvision_model(name: str, in_channels: int, num_classes: int,
                            input_size: tuple[int, int]) -> nn.Module:
    """torchvision's `NAME` with a fresh `num_classes` head, for 3-channel images of `input_size`.

    torchvision's models take 3 channels; trainlab repeats single-channel data to 3 (and says so)
    before it gets here. GoogLeNet and Inception v3 are built without their auxiliary heads, so
    the model returns one logits tensor in training as in evaluation, and with
    `transform_input=True`, as torchvision builds them for their published weights (which were
    trained on another normalisation; for fresh weights it is only a fixed affine map).
    """
    plain = torchvision_name(name)
    if in_channels != 3:
        raise ValueError(f"torchvision's {plain} takes 3-channel images, got {in_channels}")
    kwargs: dict = {"weights": None, "num_classes": num_classes}
    if plain in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=True, transform_input=True)
    for family, argument in SIZE_ARGUMENT.items():
        if plain.startswith(family):
            height, width = input_size
            if argument == "image_size" and height != width:
                raise ValueError(f"{plain} takes square images, got {height}x{width}")
            kwargs[argument] = height if argument == "image_size" else tuple(input_size)
    model = torchvision.models.get_model(plain, **kwargs)
    model.head_path = find_head(model)
    return model
