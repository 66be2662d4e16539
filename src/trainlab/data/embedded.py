"""scikit-learn's bundled 8x8 handwritten digits: 1,797 real images that work offline everywhere."""
from __future__ import annotations

import torch

from ._registry import register_dataset
from ._types import SourceData, Split


@register_dataset("digits", "scikit-learn's 8x8 handwritten digits (1,797 images, embedded, offline)")
def digits(data_dir=None, download=False, image_size=None) -> SourceData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are counts 0..16; spread them over 0..255 like any other image.
    pixels = torch.from_numpy(bunch.images).mul(255.0 / 16.0).round().to(torch.uint8)
    return SourceData(
        train=Split(pixels.unsqueeze(1), torch.from_numpy(bunch.target)),
        class_names=[str(d) for d in range(10)],
        # Seed 001's ResNet-18 halves the image five times; 32x32 leaves it a 1x1 map at the end.
        default_image_size=32,
        origin="scikit-learn's embedded digits",
    )
