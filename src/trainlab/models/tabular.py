"""Models for table rows: seed 004's linear and logistic regression (the MLP is in mlp.py).

Both are one `nn.Linear(features, outputs)`: what makes regression "logistic" is the task's
sigmoid + BCE (binary) or softmax + cross-entropy (several classes), applied in the loss and at
prediction time, not a layer in the model.
"""
from __future__ import annotations

import torch.nn as nn

from ._registry import register_model


class LinearModel(nn.Module):
    def __init__(self, in_features: int, outputs: int):
        super().__init__()
        self.linear = nn.Linear(in_features, outputs)

    def forward(self, x):
        return self.linear(x)


@register_model("linear", inputs=("features",))
def linear(*, in_channels, num_classes, input_size):
    """Linear regression y = xW + b on a table's standardised features."""
    return LinearModel(in_channels, num_classes)


@register_model("logistic", inputs=("features",))
def logistic(*, in_channels, num_classes, input_size):
    """Logistic regression: one linear layer; sigmoid (binary) or softmax in the loss."""
    return LinearModel(in_channels, num_classes)
