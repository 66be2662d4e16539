"""Batched preprocessing on tensors: normalisation and augmentation, a whole batch per call.

No per-sample Python: random crops are one gather, flips one `where`, rotations one
`affine_grid`/`grid_sample`. Random numbers come from the generator passed in, so a seed fixes them.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "flip", "crop", "crop-flip", "rotation")


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float, scaled to 0..1 then standardised per channel."""
    return (images.float().div_(255.0) - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to `padding` pixels (zero-padded), like RandomCrop(size, padding)."""
    b, _, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    shifts = torch.randint(0, 2 * padding + 1, (2, b), generator=generator).to(images.device)
    rows = (torch.arange(h, device=images.device).view(1, h) + shifts[0].view(b, 1))  # (B, H)
    cols = (torch.arange(w, device=images.device).view(1, w) + shifts[1].view(b, 1))  # (B, W)
    batch = torch.arange(b, device=images.device).view(b, 1, 1)
    cropped = padded.permute(0, 2, 3, 1)[batch, rows.view(b, h, 1), cols.view(b, 1, w)]
    return cropped.permute(0, 3, 1, 2)  # (B, C, H, W)


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)


def random_rotation(images: torch.Tensor, degrees: float, generator: torch.Generator):
    """Rotate each image by a random angle in [-degrees, degrees] (float input)."""
    b = images.shape[0]
    angles = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(degrees)
    cos, sin = angles.cos(), angles.sin()
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(b)], 1),
                         torch.stack([sin, cos, torch.zeros(b)], 1)], 1)
    grid = F.affine_grid(theta.to(images.device, images.dtype), list(images.shape),
                         align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment(images: torch.Tensor, preset: str, generator: torch.Generator) -> torch.Tensor:
    """Apply an augmentation preset to a uint8 batch; returns uint8 of the same shape."""
    if preset == "none":
        return images
    if preset == "flip":
        return random_flip(images, generator)
    if preset in ("crop", "crop-flip"):
        images = random_crop(images, padding=max(1, images.shape[-1] // 8), generator=generator)
        return random_flip(images, generator) if preset == "crop-flip" else images
    if preset == "rotation":
        rotated = random_rotation(images.float(), degrees=15.0, generator=generator)
        return rotated.round_().clamp_(0, 255).to(torch.uint8)
    raise ValueError(f"unknown augmentation {preset!r}; choose from {', '.join(AUGMENTATIONS)}")
