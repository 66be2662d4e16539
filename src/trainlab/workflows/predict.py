"""`predict_files(run, paths)`: class probabilities for image files, with a run's checkpoint.

Each image is prepared exactly as the checkpoint's metadata says (channels, size, mean/std), so a
colour photo works with a greyscale model and a 200x200 image with a 28x28 one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data.image_files import is_image_file, to_array
from ..data.transforms import normalize, permute_pixels, pixel_permutation
from ..engine import resolve_device, writing
from ..engine.runner import forward
from .run_dir import csv_writer, load_run_model, resolve_run_dir

BATCH = 256


@dataclass
class Prediction:
    path: Path
    classes: list[str]  # top-k class names, most probable first
    probabilities: list[float]


def expand_inputs(inputs: list[str | Path]) -> tuple[list[Path], list[str], list[str]]:
    """Files as given, folders searched recursively for images. Also returns the problems
    (missing paths, empty folders) and the files in folders passed over (no image extension),
    each as "path: why"."""
    files, problems, passed_over = [], [], []
    for item in map(Path, inputs):
        if item.is_dir():
            everything = sorted(p for p in item.rglob("*") if p.is_file())
            found = [p for p in everything if is_image_file(p)]
            passed_over += [f"{p}: not an image file name (extension {p.suffix or 'none'})"
                            for p in everything if not is_image_file(p)]
            if not found:
                problems.append(f"{item}: folder holds no image files")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            problems.append(f"{item}: no such file or folder")
    return files, problems, passed_over


def load_for_model(path: Path, preprocessing: dict) -> torch.Tensor:
    """One image file as a uint8 (C, H, W) tensor in the model's channels and size."""
    channels = preprocessing["channels"]
    height, width = preprocessing["image_size"]
    with Image.open(path) as image:
        image.load()
        array = to_array(image, channels)
    if array.shape[:2] != (height, width):
        resized = Image.fromarray(array.squeeze(2) if channels == 1 else array)
        array = to_array(resized.resize((width, height), Image.BILINEAR), channels)
    image = torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1)
    if preprocessing.get("permute_pixels") is not None:  # trained on shuffled pixels
        image = permute_pixels(image, pixel_permutation(preprocessing["permute_pixels"],
                                                        height, width))
    return image


@torch.no_grad()
def predict_files(run: str | Path, inputs: list[str | Path], top_k: int = 3,
                  checkpoint: str | None = None, device="auto",
                  passed_over: list[str] | None = None) -> tuple[list[Prediction], list[str]]:
    """Top-k predictions for every image found in `inputs`, and a problem line per input that
    could not be used. Files in folders without an image extension are not problems; they are
    added to `passed_over` (when given), each with why, so nothing is left out unsaid.
    `checkpoint`: best (default), last, or a checkpoint path."""
    if top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {top_k}")
    device = resolve_device(device)
    model, meta = load_run_model(resolve_run_dir(run), checkpoint, device=device)
    prep, names = meta["preprocessing"], meta["class_names"]
    mean = torch.tensor(prep["mean"], device=device)
    std = torch.tensor(prep["std"], device=device)
    top_k = min(top_k, len(names))
    files, problems, skipped = expand_inputs(inputs)
    if passed_over is not None:
        passed_over += skipped
    loaded: list[tuple[Path, torch.Tensor]] = []
    for path in files:
        try:
            loaded.append((path, load_for_model(path, prep)))
        except Exception as error:  # every unreadable file is reported, none is skipped silently
            problems.append(f"{path}: cannot read as an image ({error})")
    predictions = []
    for start in range(0, len(loaded), BATCH):
        chunk = loaded[start:start + BATCH]
        x = normalize(torch.stack([t for _, t in chunk]).to(device), mean, std)
        probabilities = forward(model, x, bool(meta.get("test_time_flip"))).float() \
            .softmax(dim=1).cpu()
        values, indices = probabilities.topk(top_k, dim=1)
        for (path, _), vals, idxs in zip(chunk, values.tolist(), indices.tolist()):
            predictions.append(Prediction(path, [names[i] for i in idxs], vals))
    return predictions, problems


def write_predictions_csv(predictions: list[Prediction], path: str | Path) -> None:
    top_k = max((len(p.classes) for p in predictions), default=1)
    with writing(path), open(path, "w", newline="") as handle:
        writer = csv_writer(handle)
        header = ["path"]
        for rank in range(1, top_k + 1):
            header += [f"class_{rank}", f"probability_{rank}"]
        writer.writerow(header)
        for p in predictions:
            row = [str(p.path)]
            for name, prob in zip(p.classes, p.probabilities):
                row += [name, f"{prob:.6f}"]
            writer.writerow(row)
