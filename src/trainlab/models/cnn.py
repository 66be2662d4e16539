"""LeNet-style convolutional networks from the courses (seeds 002 and 003)."""
from __future__ import annotations

import torch.nn as nn

from ._base import ImageClassifier, infer_feature_size
from ._registry import register_model


def _conv_pool(in_channels: int, out_channels: int, kernel_size: int) -> list[nn.Module]:
    # Seed 003 pools before the ReLU, seed 002 after; max-pool and ReLU commute, so the results
    # are identical, and pooling first gives the ReLU a quarter of the values to process.
    return [nn.Conv2d(in_channels, out_channels, kernel_size), nn.MaxPool2d(2), nn.ReLU()]


def _mlp_head(in_features: int, hidden: list[int], num_classes: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(in_features, size), nn.ReLU()]
        in_features = size
    return [*layers, nn.Linear(in_features, num_classes)]


class ConvNet(ImageClassifier):
    """Conv/pool trunk, flattened, then a small fully connected head."""

    def __init__(self, trunk: list[nn.Module], hidden, num_classes, in_channels, input_size,
                 log_softmax=False):
        super().__init__()
        self.features = nn.Sequential(*trunk, nn.Flatten())
        n_features = infer_feature_size(self.features, in_channels, input_size)
        head = _mlp_head(n_features, list(hidden), num_classes)
        if log_softmax:  # seed 002's CNN; harmless under cross-entropy (see mlp.py)
            head.append(nn.LogSoftmax(dim=1))
        self.head = nn.Sequential(*head)


@register_model("cnn")
def cnn(*, in_channels, num_classes, input_size):
    """LeNet-style CNN: conv5x5(10), conv5x5(20), FC 256-64-classes (99.11% on MNIST).

    The final CNN of seed 003.
    """
    trunk = _conv_pool(in_channels, 10, 5) + _conv_pool(10, 20, 5)
    return ConvNet(trunk, [256, 64], num_classes, in_channels, input_size)


@register_model("cnn-small")
def cnn_small(*, in_channels, num_classes, input_size, n_feature: int = 6):
    """Small CNN: two conv5x5 of n_feature channels, FC 50, LogSoftmax output.

    Seed 002's CNN.
    """
    trunk = _conv_pool(in_channels, n_feature, 5) + _conv_pool(n_feature, n_feature, 5)
    return ConvNet(trunk, [50], num_classes, in_channels, input_size, log_softmax=True)


@register_model("lenet-cifar")
def lenet_cifar(*, in_channels, num_classes, input_size):
    """LeNet for CIFAR-10: conv5x5(6), conv5x5(16), FC 120-84-classes.

    Seed 002's CIFAR-10 `Net`.
    """
    trunk = _conv_pool(in_channels, 6, 5) + _conv_pool(6, 16, 5)
    return ConvNet(trunk, [120, 84], num_classes, in_channels, input_size)
