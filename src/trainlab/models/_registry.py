"""The model registry: `create_model(name, **options)` and `list_models()`.

Each model family file registers thin builder functions with `@register_model`. Every builder
takes `in_channels`, `num_classes` and `input_size` (height, width) so the same name works for
1x28x28 Fashion-MNIST, 1x32x32 upscaled digits and 3x32x32 CIFAR-10.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from . import torchvision_zoo
from ._options import check_options


class ModelInputError(ValueError):
    """Images of this size (or channel count) cannot go through the model's layers."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    summary: str  # one line, from the builder's docstring
    inputs: tuple[str, ...] = ("image",)  # what it reads: image, features, series, tokens


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, inputs: tuple[str, ...] = ("image",)):
    """Decorator: register `builder` under `name`. A duplicate name is an error. `inputs`: the
    kinds of input it reads (data/_examples.py): for "image", `in_channels` and `input_size`
    are C and (H, W); for "features" F and (); for "series" F per step and (T,); for "tokens"
    the alphabet size and (T,)."""

    def decorate(builder):
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        doc = inspect.getdoc(builder) or ""
        _MODELS[name] = ModelEntry(name, builder, doc.splitlines()[0] if doc else "",
                                   tuple(inputs))
        return builder

    return decorate


def list_models(inputs: str | None = None) -> list[str]:
    """trainlab's own models (torchvision's are `list_torchvision_models()`, tv:NAME), or those
    that read `inputs` (e.g. "features")."""
    return sorted(name for name, entry in _MODELS.items() if inputs is None or inputs in entry.inputs)


def example_input(inputs: str, in_channels: int, input_size, batch: int = 1) -> torch.Tensor:
    """A zero input of the kind `inputs` (for summaries and shape checks); tokens are all 1,
    a sequence with no padding."""
    if inputs == "image":
        return torch.zeros(batch, in_channels, *input_size)
    if inputs == "features":
        return torch.zeros(batch, in_channels)
    if inputs == "series":
        return torch.zeros(batch, *input_size, in_channels)
    return torch.ones(batch, *input_size, dtype=torch.long)


def is_known_model(name) -> bool:
    return name in _MODELS or torchvision_zoo.is_torchvision_model(name)


def get_model_entry(name: str) -> ModelEntry:
    if torchvision_zoo.is_torchvision_model(name):
        return _torchvision_entry(name)
    if name not in _MODELS:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(list_models())}, or "
                       "tv:NAME for a torchvision model (`trainlab models` lists them)")
    return _MODELS[name]


def _torchvision_entry(name: str) -> ModelEntry:
    """tv:NAME resolved like `folder:PATH` for data: one adapter builds every torchvision model."""
    def builder(*, in_channels, num_classes, input_size):
        return torchvision_zoo.build_torchvision_model(name, in_channels, num_classes, input_size)

    return ModelEntry(name, builder, torchvision_zoo.summary(name))


def model_options(name: str) -> dict[str, object]:
    """The options a model accepts beyond in_channels/num_classes/input_size, with defaults."""
    signature = inspect.signature(get_model_entry(name).builder)
    common = {"in_channels", "num_classes", "input_size"}
    return {
        p.name: p.default
        for p in signature.parameters.values()
        if p.name not in common and p.kind is p.KEYWORD_ONLY
    }


def check_model_options(name: str, options: dict) -> dict:
    """`options` converted to the types `name`'s builder declares (e.g. "false" -> False,
    "[4,8]" -> [4, 8]); ModelOptionError naming a value of the wrong type or outside the choices.
    Run before anything is built or written, so a typo costs nothing."""
    return check_options(name, get_model_entry(name).builder, options)


def create_model(
    name: str,
    in_channels: int = 1,
    num_classes: int = 10,
    input_size: tuple[int, int] = (28, 28),
    **options,
) -> nn.Module:
    """Build a registered model.

    >>> model = create_model("resnet18", in_channels=1, num_classes=10, input_size=(32, 32))
    """
    entry = get_model_entry(name)
    unknown = set(options) - set(model_options(name))
    if unknown:
        accepted = ", ".join(model_options(name)) or "none"
        raise TypeError(
            f"model {name!r} does not take option(s) {', '.join(sorted(unknown))}; "
            f"it accepts: {accepted}"
        )
    options = check_model_options(name, options)
    try:
        model = entry.builder(
            in_channels=in_channels, num_classes=num_classes, input_size=tuple(input_size),
            **options)
        if entry.inputs == ("image",):  # images can be too small for the layers; others cannot
            check_input_fits(model, in_channels, tuple(input_size))
    except RuntimeError as error:  # e.g. a kernel larger than what the layers left of the image
        height, width = input_size
        raise ModelInputError(
            f"model {name!r} cannot take {in_channels}x{height}x{width} images "
            f"({str(error).splitlines()[0]}); resize them with --image-size (e.g. 28 or 32) or "
            "choose another model") from None
    model.num_classes = num_classes
    return model


@torch.no_grad()
def check_input_fits(model: nn.Module, in_channels: int, input_size) -> None:
    """Run one zero image through a new model, so images its layers shrink to nothing fail here,
    in one sentence, rather than at the first training step."""
    was_training = model.training
    model.eval()  # BatchNorm statistics stay untouched
    try:
        model(torch.zeros(1, in_channels, *input_size))
    finally:
        model.train(was_training)
