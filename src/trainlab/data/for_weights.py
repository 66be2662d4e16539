"""A data set made to look like what pretrained weights were trained on.

torchvision's ImageNet weights expect 3 channels, a centre crop of a resized image (e.g. 224
from 256) and ImageNet's mean/std. `match_weights` does that once, on the uint8 tensors, so
training, evaluation and the checkpoint (which predict reads) all agree.
"""
from __future__ import annotations

import dataclasses

from ._types import ImageDataset, Split


def repeat_to_three_channels(split: Split) -> Split:
    return Split(split.images.expand(-1, 3, -1, -1).contiguous(), split.labels)


def centre_crop(split: Split, size: int) -> Split:
    height, width = split.images.shape[2:]
    top, left = max(0, (height - size) // 2), max(0, (width - size) // 2)
    return Split(split.images[:, :, top:top + size, left:left + size].contiguous(), split.labels)


def match_weights(data: ImageDataset, channels: int, mean=None, std=None,
                  crop_size: int | None = None, why: str = "the model") -> ImageDataset:
    """`data` with single-channel images repeated to `channels` (3), centre-cropped to
    `crop_size` (when given and smaller), and normalised with `mean`/`std` (when given). Each
    change is said once in `data.notes`."""
    notes = list(data.notes)
    splits = {name: getattr(data, name) for name in ("train", "dev", "test")}
    if data.in_channels == 1 and channels == 3:
        splits = {name: repeat_to_three_channels(s) for name, s in splits.items()}
        notes.append(f"single-channel images repeated to 3 channels for {why}")
    resize_size = None
    height, width = data.image_size
    if crop_size is not None and crop_size < min(height, width):
        splits = {name: centre_crop(s, crop_size) for name, s in splits.items()}
        resize_size = (height, width)
        notes.append(f"images resized to {height}x{width} and centre-cropped to "
                     f"{crop_size}x{crop_size} for {why}")
    if mean is not None:
        notes.append(f"normalised with the mean {_short(mean)} and std {_short(std)} of {why}")
    return dataclasses.replace(
        data, **splits, notes=notes, resize_size=resize_size,
        mean=tuple(mean) if mean is not None else _repeat(data.mean, channels),
        std=tuple(std) if std is not None else _repeat(data.std, channels))


def _repeat(values: tuple, channels: int) -> tuple:
    return tuple(values) * channels if len(values) == 1 and channels == 3 else tuple(values)


def _short(values) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"



