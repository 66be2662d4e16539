"""The self-describing bundle: one folder, `model.safetensors` + `model.json`.

`model.json` says everything needed to rebuild and feed the model without its run directory:
the architecture's name and arguments, the class names, the input (channels, size, resize
size, mean/std), and the trainlab version. The same `model.json` sits beside an exported
`.onnx` or TorchScript file, so `trainlab predict` can prepare images for those too.

    >>> model = trainlab.load_bundle("runs/x/export/bundle")
    >>> model.class_names, model.preprocessing["mean"]
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from ..data import data_label
from ..engine import CheckpointError
from ..engine.checkpoint import atomic_write
from ..models import create_model
from .checkpoint_metadata import check_metadata

BUNDLE_FORMAT = "trainlab-bundle-1"
MODEL_JSON = "model.json"
WEIGHTS = "model.safetensors"
MAX_JSON_BYTES = 4_000_000  # 10,000 class names of 200 characters fit; more is not a model.json


def model_json(meta: dict, file: str, parity: dict | None = None) -> dict:
    """model.json for a run checkpoint's metadata `meta`, describing the exported `file`."""
    prep = meta["preprocessing"]
    arguments = {"in_channels": meta["in_channels"], "num_classes": meta["num_classes"],
                 "input_size": meta["input_size"], **meta.get("model_options", {})}
    return {
        "format": BUNDLE_FORMAT,
        "file": file,
        "architecture": meta["model"],
        "arguments": arguments,
        "class_names": meta["class_names"],
        "input": {"channels": prep["channels"], "size": prep["image_size"],
                  "resize_size": prep.get("resize_size"), "mean": prep["mean"],
                  "std": prep["std"], "range": "0..1 before mean/std", "layout": "NCHW",
                  "permute_pixels": prep.get("permute_pixels")},
        "test_time_flip": bool(meta.get("test_time_flip")),
        "data": data_label(meta.get("data")),  # not where the files were
        "parity": parity,
        "trainlab_version": __version__,
        "torch_version": torch.__version__,
    }


def write_model_json(path: Path, info: dict) -> None:
    text = json.dumps(info, indent=2) + "\n"
    atomic_write(path, lambda temporary: Path(temporary).write_text(text))


def read_model_json(path: Path) -> dict:
    """model.json as checkpoint-style metadata (model, model_options, in_channels, ...),
    checked as a checkpoint's is before anything is built from it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: a bundle folder, or an exported .onnx/.pt "
                              "file, needs the model.json that `trainlab export` wrote beside it")
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ValueError(f"{path.stat().st_size:,} bytes is too long for a model.json")
        info = json.loads(path.read_text())
        if not isinstance(info, dict) or info.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"its format is not {BUNDLE_FORMAT!r}")
        arguments, given = dict(info["arguments"]), info["input"]
        meta = {"model": info["architecture"], "in_channels": arguments.pop("in_channels"),
                "num_classes": arguments.pop("num_classes"),
                "input_size": arguments.pop("input_size"), "model_options": arguments,
                "class_names": info["class_names"],
                "preprocessing": {"channels": given["channels"], "image_size": given["size"],
                                  "mean": given["mean"], "std": given["std"]},
                "test_time_flip": bool(info.get("test_time_flip")),
                "trainlab_version": info.get("trainlab_version"), "data": info.get("data")}
        for optional in ("resize_size", "permute_pixels"):
            if given.get(optional) is not None:
                meta["preprocessing"][optional] = given[optional]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise CheckpointError(f"{path} cannot be used: {error}. Export the run again with "
                              "`trainlab export`") from error
    return check_metadata(meta, path)


def write_bundle(model: nn.Module, meta: dict, folder: Path, parity: dict | None = None) -> Path:
    """Write `folder`/model.safetensors and `folder`/model.json; returns the folder."""
    folder = Path(folder)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(folder / WEIGHTS, lambda temporary: save_file(state, temporary))
    write_model_json(folder / MODEL_JSON, model_json(meta, WEIGHTS, parity))
    return folder


def build_from_metadata(meta: dict, source: Path) -> nn.Module:
    try:
        return create_model(meta["model"], in_channels=meta["in_channels"],
                            num_classes=meta["num_classes"], input_size=tuple(meta["input_size"]),
                            **meta.get("model_options", {}))
    except Exception as error:
        raise CheckpointError(f"{source} cannot be used: it describes a model that cannot be "
                              f"built ({error})") from error


def load_bundle(path: str | Path, device="cpu") -> nn.Module:
    """The model in a bundle folder, in evaluation mode, with `class_names` and `preprocessing`
    (channels, image_size, resize_size, mean, std on the 0..1 scale) attached. Needs nothing
    from the run it came from; no pickle is read."""
    folder = Path(path)
    meta = read_model_json(folder / MODEL_JSON)
    model = build_from_metadata(meta, folder / MODEL_JSON)
    try:
        state = load_file(str(folder / WEIGHTS), device=str(device))
        model.load_state_dict(state)
    except (SafetensorError, OSError, RuntimeError) as error:
        raise CheckpointError(f"{folder / WEIGHTS} cannot be used: "
                              f"{str(error).splitlines()[0][:300]}") from error
    model = model.to(device).eval()
    model.class_names = meta["class_names"]
    model.preprocessing = meta["preprocessing"]
    model.test_time_flip = meta["test_time_flip"]
    return model
