"""The one interface every image model exposes (as timm's models do).

`forward_features(x)` -> the feature tensor before the classifier, `forward_head(features)` ->
logits, and `forward = forward_head(forward_features(x))`. Summaries, feature plots and transfer
learning (replace `head`) can then treat every model alike.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class ImageClassifier(nn.Module):
    """A `features` trunk and a `head` (both nn.Modules, set by subclasses; not declared as
    class annotations, which TorchScript would try to read); subclasses may override either
    forward method."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@torch.no_grad()
def infer_feature_size(trunk: nn.Module, in_channels: int, input_size: tuple[int, int]) -> int:
    """Number of features `trunk` produces for one image, found by running a zero image.

    This is how the course networks' hard-coded `nn.Linear(320, ...)` becomes "sized from the
    input": the same architecture works for 28x28, 32x32 or 64x64 images.
    """
    was_training = trunk.training
    trunk.eval()
    out = trunk(torch.zeros(1, in_channels, *input_size))
    trunk.train(was_training)
    return out.flatten(1).shape[1]


class LinearHeadClassifier(ImageClassifier):
    """A convolutional trunk ending in a flat feature vector, then one linear layer whose input
    size is measured on a zero image (inception, resnet-mini, vgg16)."""

    def __init__(self, features: nn.Module, in_channels: int, input_size, num_classes: int):
        super().__init__()
        self.features = features
        self.head = nn.Linear(infer_feature_size(features, in_channels, input_size), num_classes)
