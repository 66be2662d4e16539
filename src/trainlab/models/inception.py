"""Seeds 003/004 GoogLeNet-style network built from InceptionA blocks."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._base import LinearHeadClassifier
from ._registry import register_model


class InceptionA(nn.Module):
    """Four parallel branches (1x1; 1x1-5x5; 1x1-3x3-3x3; avgpool-1x1) concatenated: 88 channels."""

    out_channels = 16 + 24 + 24 + 24

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch1x1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_2 = nn.Conv2d(16, 24, kernel_size=5, padding=2)
        self.branch3x3_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch3x3_2 = nn.Conv2d(16, 24, kernel_size=3, padding=1)
        self.branch3x3_3 = nn.Conv2d(24, 24, kernel_size=3, padding=1)
        self.branch_pool = nn.Conv2d(in_channels, 24, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3 = self.branch3x3_3(self.branch3x3_2(self.branch3x3_1(x)))
        branch_pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([branch1x1, branch5x5, branch3x3, branch_pool], dim=1)


@register_model("inception")
def inception(*, in_channels, num_classes, input_size):
    """GoogLeNet-style network: conv10, InceptionA, conv20, InceptionA, FC (98.9% on MNIST).

    Seeds 003/004's InceptionA network.
    """
    features = nn.Sequential(
        nn.Conv2d(in_channels, 10, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),
        InceptionA(10),
        nn.Conv2d(InceptionA.out_channels, 20, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),
        InceptionA(20),
        nn.Flatten(),
    )
    # The head is Linear(1408, classes) for 28x28 input (88 x 4 x 4), as in the seed.
    return LinearHeadClassifier(features, in_channels, input_size, num_classes)
