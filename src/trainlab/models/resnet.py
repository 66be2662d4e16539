"""Residual networks: seed 001's ResNet-18 (residual switchable) and seeds 003/004's small one."""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._base import ImageClassifier, LinearHeadClassifier
from ._registry import register_model


class ResBlock(nn.Module):
    """Seed 001 residual unit: conv3x3-BN-ReLU-conv3x3-BN, plus the input, then ReLU.

    With `use_residual=False` the shortcut is dropped (the 5.4.2 ablation); a 1x1 conv + BN
    shortcut matches shapes when the channels or the stride change.
    """

    def __init__(self, in_channels, out_channels, stride=1, use_residual=True):
        super().__init__()
        self.stride = stride
        self.use_residual = use_residual
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, stride=stride, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.use_1x1conv = in_channels != out_channels or stride != 1
        if self.use_1x1conv:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if self.use_1x1conv:
            self.bn3 = nn.BatchNorm2d(out_channels)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(inputs)))
        y = self.bn2(self.conv2(y))
        if self.use_residual:
            shortcut = self.bn3(self.shortcut(inputs)) if self.use_1x1conv else inputs
            y = y + shortcut
        return F.relu(y)


def resnet_module(in_channels, out_channels, num_blocks, stride=1, use_residual=True):
    """One stage: the first block may change channels/stride, the rest keep them."""
    blocks = [ResBlock(in_channels, out_channels, stride, use_residual)]
    blocks += [ResBlock(out_channels, out_channels, 1, use_residual) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


def make_stem(in_channels: int, stem: str) -> nn.Sequential:
    if stem == "imagenet":  # seed 001 module one: 7x7 stride 2, BN, ReLU, 3x3 max-pool stride 2
        return nn.Sequential(
            nn.Conv2d(in_channels, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
    if stem == "cifar":  # small images: 3x3 stride 1, no pooling, keeps 32x32 resolution
        return nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(64),
            nn.ReLU(),
        )
    raise ValueError(f"unknown stem {stem!r}; use 'imagenet' (7x7 stride-2 first layer) or "
                     "'cifar' (3x3 stride-1 first layer, for 32x32 images)")


class ResNet18(ImageClassifier):
    """Seed 001 Model_ResNet18: six modules held in `net`, as in the course (net.0 ... net.7).

    Keeping the course's `net` layout means its state-dict keys, and the weight mapping from
    torchvision's resnet18 in 5.4.4, apply unchanged (see `load_torchvision_resnet18_weights`).
    """

    def __init__(self, in_channels=3, num_classes=10, use_residual=True, stem="imagenet"):
        super().__init__()
        self.net = nn.Sequential(
            make_stem(in_channels, stem),
            resnet_module(64, 64, 2, stride=1, use_residual=use_residual),
            resnet_module(64, 128, 2, stride=2, use_residual=use_residual),
            resnet_module(128, 256, 2, stride=2, use_residual=use_residual),
            resnet_module(256, 512, 2, stride=2, use_residual=use_residual),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes),
        )

    def forward_features(self, x):
        return self.net[:7](x)

    def forward_head(self, features):
        return self.net[7](features)

    @property
    def head(self) -> nn.Linear:
        return self.net[7]


# torchvision resnet18 names -> this ResNet18's (prefixes; inside a stage, downsample -> shortcut).
TORCHVISION_PREFIXES = {"conv1.": "net.0.0.", "bn1.": "net.0.1.", "fc.": "net.7."}
TORCHVISION_STAGE_NAMES = {"downsample.0": "shortcut", "downsample.1": "bn3"}


def torchvision_resnet18_key(key: str) -> str:
    """A torchvision resnet18 state-dict key as this ResNet18 names it (layer1.0.conv1.weight ->
    net.1.0.conv1.weight)."""
    for theirs, ours in TORCHVISION_PREFIXES.items():
        if key.startswith(theirs):
            return ours + key[len(theirs):]
    if key.startswith("layer"):
        stage, rest = key[len("layer"):].split(".", 1)  # "1", "0.conv1.weight"
        for theirs, ours in TORCHVISION_STAGE_NAMES.items():
            rest = rest.replace(theirs, ours)
        return f"net.{stage}.{rest}"
    raise KeyError(f"unexpected key in torchvision resnet18 state dict: {key}")


def map_torchvision_resnet18_state(torchvision_state: dict, stem_bias: torch.Tensor) -> dict:
    """A torchvision resnet18 state dict under this ResNet18's names; torchvision's stem conv
    has no bias, so ours gets `stem_bias` (zeros)."""
    mapped = {torchvision_resnet18_key(k): v for k, v in torchvision_state.items()}
    mapped["net.0.0.bias"] = stem_bias
    return mapped


def load_torchvision_resnet18_weights(model: ResNet18, torchvision_state: dict) -> None:
    """Copy a torchvision `resnet18().state_dict()` into a `ResNet18(stem='imagenet')`.

    Seed 001 section 5.4.4 maps the library's names onto the course network and checks that both
    give the same outputs; this is that mapping, complete (the course's version drops the
    shortcut's BatchNorm through a typo). torchvision's stem conv has no bias: ours gets zeros.
    """
    model.load_state_dict(map_torchvision_resnet18_state(
        torchvision_state, torch.zeros_like(model.net[0][0].bias)), strict=True)


def to_torchvision_resnet18_weights(model: ResNet18) -> dict:
    """The other direction: this ResNet18's weights as a torchvision `resnet18().state_dict()`,
    so `torchvision.models.resnet18(num_classes=...).load_state_dict(...)` gives the same
    outputs. torchvision's stem conv has no bias, so a trained non-zero bias is folded into the
    BatchNorm after it (conv(x) + b then BN equals conv(x) then BN with its mean lowered by b)."""
    if model.net[0][0].kernel_size != (7, 7):
        raise ValueError("only the imagenet stem (7x7 stride 2, as torchvision's) maps onto "
                         "torchvision's resnet18; this model was built with stem=cifar")
    state = model.state_dict()
    converted = {theirs: state[torchvision_resnet18_key(theirs)].detach().clone()
                 for theirs in torchvision_resnet18_keys()}
    converted["bn1.running_mean"] = converted["bn1.running_mean"] - state["net.0.0.bias"]
    return converted


def torchvision_resnet18_keys() -> list[str]:
    """torchvision resnet18's state-dict keys, in its order (built on the meta device: no memory)."""
    import torchvision

    with torch.device("meta"):
        return list(torchvision.models.resnet18().state_dict())


@register_model("resnet18")
def resnet18(*, in_channels, num_classes, input_size, use_residual: bool = True,
             stem: Literal["imagenet", "cifar"] = "imagenet"):
    """ResNet-18 (11.18M params); use_residual=false drops the shortcuts, stem=cifar for 32x32.

    Seed 001's Model_ResNet18; use_residual=False is its ablation.
    """
    return ResNet18(in_channels, num_classes, use_residual=use_residual, stem=stem)


class ResNetStack(ImageClassifier):
    """He et al. 2016's CIFAR network (section 4.2): a 3x3 conv of `width` channels, three
    stages of `blocks` ResBlocks (widths w, 2w, 4w; the last two halve the resolution), global
    average pooling, one linear layer: 6 * blocks + 2 weighted layers in all."""

    def __init__(self, in_channels, num_classes, blocks, width, use_residual):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(),
            resnet_module(width, width, blocks, 1, use_residual),
            resnet_module(width, 2 * width, blocks, 2, use_residual),
            resnet_module(2 * width, 4 * width, blocks, 2, use_residual),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, num_classes)


@register_model("resnet-stack")
def resnet_stack(*, in_channels, num_classes, input_size, depth: int = 20, width: int = 16,
                 use_residual: bool = True):
    """Deep narrow residual stack (ResNet-20/32/56 for CIFAR); use_residual=false: plain stack.

    He et al. 2016 section 4.2, where the plain 56-layer stack trains worse than the plain
    20-layer one and residuals reverse that: the depth at which residuals matter.
    """
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, ...), "
                         f"got {depth}")
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    return ResNetStack(in_channels, num_classes, (depth - 2) // 6, width, use_residual)


class ResidualBlock(nn.Module):
    """Seeds 003/004 block: relu(x + conv(relu(conv(x)))), channels unchanged, no BatchNorm."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x):
        y = self.conv2(F.relu(self.conv1(x)))
        return F.relu(x + y)


@register_model("resnet-mini")
def resnet_mini(*, in_channels, num_classes, input_size):
    """Small residual network: two residual blocks, no BatchNorm (99.2% on MNIST in the course).

    Seeds 003/004's network with two ResidualBlocks.
    """
    features = nn.Sequential(
        nn.Conv2d(in_channels, 16, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),
        ResidualBlock(16),
        nn.Conv2d(16, 32, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),
        ResidualBlock(32),
        nn.Flatten(),
    )
    return LinearHeadClassifier(features, in_channels, input_size, num_classes)


def ResNet(num_classes: int) -> ResNet18:
    """Seed 000's constructor, `ResNet(num_classes)`, for 3-channel images."""
    return ResNet18(in_channels=3, num_classes=num_classes)
