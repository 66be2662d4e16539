"""Batched preprocessing on tensors: normalisation and augmentation, a whole batch per call.

No per-sample Python: random crops are one gather, flips one `where`, rotations one
`affine_grid`/`grid_sample`. The random numbers are drawn separately from applying them
(`draw_augmentation` / `apply_augmentation`), so a loader can draw a whole epoch's worth at once
on the CPU and send them to a GPU in one copy: no host synchronisation per step, and the same
numbers on every device for the same seed.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "flip", "crop", "crop-flip", "rotation")
ROTATION_DEGREES = 15.0


def pixel_permutation(seed: int, height: int, width: int) -> torch.Tensor:
    """One fixed shuffle of the H*W pixel positions, drawn from `seed` alone (seed 002's
    `torch.randperm(784)`), so train, test and predict all move pixels the same way."""
    return torch.randperm(height * width, generator=torch.Generator().manual_seed(seed))


def permute_pixels(images: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """(..., C, H, W) images with their pixel positions shuffled by `permutation` (all channels
    alike): the images keep every value but lose all spatial structure."""
    shape = images.shape
    return images.flatten(-2)[..., permutation].reshape(shape)


def normalization_constants(mean, std, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) with x_normalised = uint8 * scale + shift, shaped (1, C, 1, 1)."""
    mean = torch.as_tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return 1.0 / (255.0 * std), -mean / std


def normalize(images: torch.Tensor, mean, std, channels_last: bool = False) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float, scaled to 0..1 then standardised per channel.

    One conversion and one fused multiply-add (two kernels), optionally straight into the
    channels-last layout the convolutions want."""
    scale, shift = normalization_constants(mean, std, images.device)
    return scale_and_shift(images, scale, shift, channels_last)


def scale_and_shift(images: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor,
                    channels_last: bool = False) -> torch.Tensor:
    """`normalize` with its constants computed once (see `normalization_constants`)."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    return torch.addcmul(shift, images.to(torch.float32, memory_format=layout), scale)


def crop_padding(image_size: int) -> int:
    return max(1, image_size // 8)


def draw_augmentation(preset: str, n: int, image_size: int,
                      generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The random numbers `preset` needs for `n` images (on the CPU, from `generator`)."""
    if preset not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {preset!r}; choose from {', '.join(AUGMENTATIONS)}")
    params = {}
    if preset in ("crop", "crop-flip"):
        padding = crop_padding(image_size)
        params["shifts"] = torch.randint(0, 2 * padding + 1, (2, n), generator=generator)
    if preset in ("flip", "crop-flip"):
        params["flip"] = torch.rand(n, generator=generator) < 0.5
    if preset == "rotation":
        params["angles"] = (torch.rand(n, generator=generator) * 2 - 1) \
            * math.radians(ROTATION_DEGREES)
    return params


def apply_augmentation(images: torch.Tensor, preset: str, params: dict) -> torch.Tensor:
    """Apply drawn augmentation `params` (one entry per image) to a uint8 batch; returns uint8."""
    if "shifts" in params:
        images = crop(images, crop_padding(images.shape[-1]), params["shifts"])
    if "flip" in params:
        images = torch.where(params["flip"].view(-1, 1, 1, 1), images.flip(3), images)
    if "angles" in params:
        rotated = rotate(images.float(), params["angles"])
        images = rotated.round_().clamp_(0, 255).to(torch.uint8)
    return images


def crop(images: torch.Tensor, padding: int, shifts: torch.Tensor) -> torch.Tensor:
    """Shift image i by shifts[:, i] - padding pixels (zero-padded): RandomCrop(size, padding)."""
    b, _, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    rows = (torch.arange(h, device=images.device).view(1, h) + shifts[0].view(b, 1))  # (B, H)
    cols = (torch.arange(w, device=images.device).view(1, w) + shifts[1].view(b, 1))  # (B, W)
    batch = torch.arange(b, device=images.device).view(b, 1, 1)
    cropped = padded.permute(0, 2, 3, 1)[batch, rows.view(b, h, 1), cols.view(b, 1, w)]
    return cropped.permute(0, 3, 1, 2)  # (B, C, H, W)


def rotate(images: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate float image i by angles[i] radians about its centre (zeros outside)."""
    cos, sin = angles.cos(), angles.sin()
    zeros = torch.zeros_like(angles)
    theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment(images: torch.Tensor, preset: str, generator: torch.Generator) -> torch.Tensor:
    """Draw and apply an augmentation preset to a uint8 batch in one call."""
    params = draw_augmentation(preset, images.shape[0], images.shape[-1], generator)
    return apply_augmentation(images, preset, {k: v.to(images.device) for k, v in params.items()})

