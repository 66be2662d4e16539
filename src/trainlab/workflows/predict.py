"""`predict_files(run, paths)`: class probabilities for image files, with a run's checkpoint,
an exported bundle or an ONNX file; `load_predictor(path)` is the one loader behind it.

Each image is prepared exactly as the checkpoint's metadata (or model.json) says (channels,
size, resize and crop, mean/std), so a colour photo works with a greyscale model and a 200x200
image with a 28x28 one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import torch
from PIL import Image

from ..data.image_files import is_image_file, to_array
from ..data.transforms import normalize, permute_pixels, pixel_permutation
from ..engine import resolve_device, writing
from ..engine.runner import forward
from ..engine.single_pixel import use_single_pixel_path
from .bundle import MODEL_JSON, load_bundle, read_model_json
from .run_dir import RunDirError, csv_writer, load_run_model, resolve_run_dir

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


def load_for_model(path: Path | BinaryIO, preprocessing: dict) -> torch.Tensor:
    """One image file (a path, or an open binary file such as an upload held in memory) as a
    uint8 (C, H, W) tensor in the model's channels and size."""
    with Image.open(path) as image:
        image.load()
        return image_for_model(image, preprocessing)


def image_for_model(image: Image.Image, preprocessing: dict) -> torch.Tensor:
    """A PIL image as a uint8 (C, H, W) tensor in the model's channels and size: resized to
    the image size, or to `resize_size` and then centre-cropped (pretrained weights' way)."""
    channels = preprocessing["channels"]
    height, width = preprocessing["image_size"]
    resize_height, resize_width = preprocessing.get("resize_size") or (height, width)
    array = to_array(image, channels)
    if array.shape[:2] != (resize_height, resize_width):
        resized = Image.fromarray(array.squeeze(2) if channels == 1 else array)
        array = to_array(resized.resize((resize_width, resize_height), Image.BILINEAR), channels)
    top, left = (resize_height - height) // 2, (resize_width - width) // 2
    array = array[top:top + height, left:left + width]
    image = torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1)
    if preprocessing.get("permute_pixels") is not None:  # trained on shuffled pixels
        image = permute_pixels(image, pixel_permutation(preprocessing["permute_pixels"],
                                                        height, width))
    return image


@dataclass
class Predictor:
    """A model ready to classify images, whatever it was loaded from: a run directory, a bundle
    folder, or an exported .onnx file (`load_predictor`). Everyone who predicts (the
    `predict` command, a web server) goes through this one interface."""

    source: Path
    kind: str  # "run", "bundle" or "onnx"
    class_names: list[str]
    preprocessing: dict  # channels, image_size, [resize_size], mean, std (0..1 scale)
    test_time_flip: bool
    device: torch.device
    model: Callable[[torch.Tensor], torch.Tensor]  # normalised float batch -> logits
    info: dict = field(default_factory=dict)  # the checkpoint's metadata (model, options, data)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, classes) for uint8 images (N, C, H, W) already in the
        model's size (`image_for_model` makes them)."""
        prep = self.preprocessing
        x = normalize(images.to(self.device), torch.tensor(prep["mean"], device=self.device),
                      torch.tensor(prep["std"], device=self.device))
        return forward(self.model, x, self.test_time_flip).float().softmax(dim=1).cpu()

    def top_k(self, images: torch.Tensor, k: int = 3) -> list[tuple[list[str], list[float]]]:
        """(class names, probabilities) of the k most probable classes, per image."""
        k = min(k, len(self.class_names))
        rows = []
        for start in range(0, len(images), BATCH):
            values, indices = self.probabilities(images[start:start + BATCH]).topk(k, dim=1)
            rows += [([self.class_names[i] for i in idxs], vals)
                     for vals, idxs in zip(values.tolist(), indices.tolist())]
        return rows

    def predict_images(self, images: list[Image.Image], top_k: int = 3):
        """Top-k for PIL images of any size and mode (e.g. uploads a server received)."""
        if not images:
            return []
        return self.top_k(torch.stack([image_for_model(i, self.preprocessing) for i in images]),
                          top_k)

    def predict_files(self, inputs: list[str | Path], top_k: int = 3,
                      passed_over: list[str] | None = None) -> tuple[list[Prediction], list[str]]:
        """Top-k for every image found in `inputs` (files, folders searched recursively), and
        a problem line per input that could not be used; see `predict_files`."""
        if top_k < 1:
            raise ValueError(f"--top-k must be at least 1, got {top_k}")
        files, problems, skipped = expand_inputs(inputs)
        if passed_over is not None:
            passed_over += skipped
        loaded: list[tuple[Path, torch.Tensor]] = []
        for path in files:
            try:
                loaded.append((path, load_for_model(path, self.preprocessing)))
            except Exception as error:  # every unreadable file is reported, none skipped silently
                problems.append(f"{path}: cannot read as an image ({error})")
        if not loaded:
            return [], problems
        ranked = self.top_k(torch.stack([t for _, t in loaded]), top_k)
        return [Prediction(path, names, probs)
                for (path, _), (names, probs) in zip(loaded, ranked)], problems


def load_predictor(path: str | Path, checkpoint: str | None = None,
                   device="auto") -> Predictor:
    """A Predictor from a run directory (its `checkpoint`: best, last or a path), a bundle
    folder (`trainlab export --format bundle`), or an .onnx file with its model.json beside it
    (`trainlab export --format onnx`; runs on onnxruntime, on the CPU). Anything else is one
    RunDirError naming the path."""
    path = Path(path)
    if path.is_dir() and (path / "config.yaml").is_file():
        device = resolve_device(device)
        model, meta = load_run_model(resolve_run_dir(path), checkpoint, device=device)
        if device.type == "cpu":  # as the Runner does: same result, less work
            use_single_pixel_path(model)
        return Predictor(path, "run", meta["class_names"], meta["preprocessing"],
                         bool(meta.get("test_time_flip")), device, model, meta)
    if checkpoint is not None:
        raise RunDirError(f"--checkpoint is for run directories; {path} is not one")
    if path.is_dir() and (path / MODEL_JSON).is_file():
        device = resolve_device(device)
        model = load_bundle(path, device=device)
        if device.type == "cpu":
            use_single_pixel_path(model)
        return Predictor(path, "bundle", model.class_names, model.preprocessing,
                         model.test_time_flip, device, model, read_model_json(path / MODEL_JSON))
    if path.is_file() and path.suffix.lower() == ".onnx":
        meta = read_model_json(path.parent / MODEL_JSON)
        try:
            import onnxruntime  # noqa: F401  (the export extra)
        except ImportError:
            raise RunDirError(f"{path}: running an ONNX file needs onnxruntime: pip install "
                              "onnxruntime (or pip install 'trainlab[export]')") from None
        from .export import run_onnx  # the same runner the export's parity check used

        try:
            model = run_onnx(path)
        except Exception as error:  # onnxruntime's own errors: not ONNX, truncated, wrong opset
            reason = (str(error).splitlines() or [type(error).__name__])[0]
            raise RunDirError(f"{path} cannot be run as an ONNX model ({reason}); export the run "
                              "again with `trainlab export RUN --format onnx`") from None
        return Predictor(path, "onnx", meta["class_names"], meta["preprocessing"],
                         meta["test_time_flip"], torch.device("cpu"), model, meta)
    raise RunDirError(f"{path} is not a run directory (config.yaml), a bundle folder "
                      "(model.json) or an .onnx file; pass what `trainlab train` or "
                      "`trainlab export` wrote")


def predict_files(run: str | Path, inputs: list[str | Path], top_k: int = 3,
                  checkpoint: str | None = None, device="auto",
                  passed_over: list[str] | None = None) -> tuple[list[Prediction], list[str]]:
    """Top-k predictions for every image found in `inputs`, and a problem line per input that
    could not be used. Files in folders without an image extension are not problems; they are
    added to `passed_over` (when given), each with why, so nothing is left out unsaid.
    `run`: a run directory, a bundle folder or an .onnx file (`load_predictor`);
    `checkpoint`: best (default), last, or a checkpoint path, for a run."""
    if top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {top_k}")
    return load_predictor(run, checkpoint, device).predict_files(inputs, top_k, passed_over)


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
