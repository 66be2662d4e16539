"""Decode image files into one uint8 tensor, shared by the folder and CSV sources.

Every file is decoded fully (a truncated JPEG passes `Image.verify()` but not `load()`), EXIF
rotation is applied, and any mode (L, LA, P, RGBA, CMYK, 16-bit) is converted to the channels the
data set uses. Problems are collected for all files and reported together, each with its path.
"""
from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ._types import DataError, Split

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                    ".pgm"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
# Images of mixed sizes are resized to this unless --image-size says otherwise.
FALLBACK_IMAGE_SIZE = 64


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def to_array(image: Image.Image, channels: int) -> np.ndarray:
    """A PIL image of any mode as an (H, W, channels) uint8 array."""
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I") or image.mode == "F":  # 16/32-bit grey: scale, don't clip
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max(initial=0) > 255 else 255.0
        image = Image.fromarray((array * (255.0 / peak)).clip(0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become black rather than whatever colour they happen to store.
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)
    image = image.convert("L" if channels == 1 else "RGB")
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def read_headers(paths: list[Path]) -> tuple[list[tuple[int, int] | None], list[str], list[str]]:
    """Size and mode of each file from its header; problems for files that cannot be opened."""
    sizes, modes, problems = [], [], []
    for path in paths:
        try:
            if path.stat().st_size == 0:
                raise DataError("empty file (0 bytes)")
            with warnings.catch_warnings():
                # Above ~89 million pixels PIL only warns; such a file is a decompression bomb
                # (or not a training image), so refuse it before decoding allocates gigabytes.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    sizes.append(image.size)
                    modes.append(image.mode)
        except Exception as error:  # PIL raises many kinds; each becomes one line of the report
            sizes.append(None)
            modes.append("")
            problems.append(f"{path}: cannot read as an image ({error})")
    return sizes, modes, problems


def decode_image_files(paths: list[Path], labels: list[int], image_size: int | None,
                       what: str, notes: list[str], problems: list[str]) -> Split:
    """Decode `paths` into a Split of shape (N, C, S, S). A file that cannot be decoded is left
    out and reported in `problems` ("path: reason"); the caller decides whether that is fatal."""
    sizes, modes, header_problems = read_headers(paths)
    problems += header_problems
    readable = [i for i, size in enumerate(sizes) if size is not None]
    paths, labels = [paths[i] for i in readable], [labels[i] for i in readable]
    sizes, modes = [sizes[i] for i in readable], [modes[i] for i in readable]
    channels = 1 if all(mode in GREY_MODES for mode in modes) else 3
    if image_size:
        size = (image_size, image_size)
    elif len(set(sizes)) <= 1:
        size = sizes[0] if sizes else (FALLBACK_IMAGE_SIZE, FALLBACK_IMAGE_SIZE)
    else:
        common = Counter(sizes).most_common(1)[0][0]
        size = (FALLBACK_IMAGE_SIZE, FALLBACK_IMAGE_SIZE)
        notes.append(f"{what}: images have {len(set(sizes))} different sizes (most common "
                     f"{common[0]}x{common[1]}); all resized to {size[0]}x{size[1]} "
                     "(set --image-size to choose)")
    arrays, kept = [], []
    for path, label in zip(paths, labels):
        try:
            with Image.open(path) as image:
                image.load()  # decode everything now: truncated files fail here, not mid-training
                array = to_array(image, channels)
            if array.shape[:2] != (size[1], size[0]):
                resized = Image.fromarray(array.squeeze(2) if channels == 1 else array)
                array = to_array(resized.resize(size, Image.BILINEAR), channels)
            arrays.append(array)
            kept.append(label)
        except Exception as error:
            problems.append(f"{path}: cannot decode ({error})")
    if not arrays:
        return Split(torch.zeros(0, channels, size[1], size[0], dtype=torch.uint8),
                     torch.zeros(0, dtype=torch.long))
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return Split(images, torch.tensor(kept, dtype=torch.long))
