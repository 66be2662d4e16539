"""A small VGG-style network with BatchNorm, sized for fast training on 28-32 px images.

Not from the courses: it is trainlab's answer to "the best accuracy in 90 seconds on a laptop
CPU" (see `--recipe fast`). A 3x3 conv-BN-ReLU stem, then two stages of two such layers, max-pooling between.
With `pool_first` the two layers followed by max-pooling pool before their BatchNorm and ReLU
(conv, pool, BN, ReLU), so those run on a quarter of the values.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._base import ImageClassifier
from ._registry import register_model


def conv_bn(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def conv_bn_pool(in_channels: int, out_channels: int, pool_first: bool) -> list[nn.Module]:
    """conv-BN-ReLU then 2x2 max-pooling, or with `pool_first` conv, pool, BN, ReLU: nearly the
    same function (ReLU and BN's per-channel scaling commute with the max where BN's scale is
    positive), with BN and ReLU, forward and backward, on a quarter of the values. On a CPU those
    cost as much as the convolutions of the full-resolution stem (issue 12's profiles)."""
    if pool_first:
        conv, norm, relu = conv_bn(in_channels, out_channels)
        return [conv, nn.MaxPool2d(2), norm, relu]
    return [*conv_bn(in_channels, out_channels), nn.MaxPool2d(2)]


class GlobalMaxPool(nn.Module):
    """(B, C, H, W) -> (B, C): the largest value per channel (AdaptiveMaxPool2d(1) + Flatten).

    Under --deterministic it uses `amax`, whose backward has a deterministic CUDA version
    (adaptive max-pooling's has none). Otherwise adaptive max-pooling: its backward follows the
    saved argmax, where amax's compares values again, which under torch.compile on a GPU gave
    NaN gradients in bf16 (one H200, torch 2.11). `amax` also in ONNX export, which sets
    `for_onnx` (workflows/export.py): ONNX has ReduceMax, and the onnxscript beside torch 2.11 on
    the GPU machines could not translate adaptive max-pooling. (Not `torch.compiler.is_exporting()`:
    older torch lacks it, and torch.compile could fold it to True, pytorch/pytorch#176347.)"""

    for_onnx = False

    def forward(self, x):
        if self.for_onnx or torch.are_deterministic_algorithms_enabled():
            return x.amax(dim=(2, 3))
        return F.adaptive_max_pool2d(x, 1).flatten(1)


class FastCNN(ImageClassifier):
    def __init__(self, in_channels: int, num_classes: int, widths: tuple[int, int, int],
                 pool_first: bool = False):
        super().__init__()
        w1, w2, w3 = widths
        # Pool right after the stem: full-resolution layers with many channels cost most of the
        # FLOPs and add little accuracy on 28x28 images.
        self.features = nn.Sequential(
            *conv_bn_pool(in_channels, w1, pool_first),
            *conv_bn(w1, w2), *conv_bn_pool(w2, w2, pool_first),
            *conv_bn(w2, w3), *conv_bn(w3, w3),
            GlobalMaxPool(),
        )
        self.head = nn.Linear(w3, num_classes)


@register_model("fastcnn")
def fastcnn(*, in_channels, num_classes, input_size, widths: tuple[int, int, int] = (24, 48, 96),
            pool_first: bool = False):
    """trainlab's small VGG-style net with BatchNorm for fast, accurate CPU training."""
    return FastCNN(in_channels, num_classes, tuple(widths), pool_first)
