"""The JSON inside a run's `.safetensors` checkpoint: written by `train`, checked before use.

A checkpoint may come from anyone, so `evaluate` and `predict` check its metadata before they
build a model or allocate anything from it: the model must be registered, every option one the
model takes with a value of the right type, the sizes within reason, and the class names as many
as the classes. Each failure is one `CheckpointError` naming the file.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from .. import __version__
from ..engine import CheckpointError
from ..engine.tasks import TASKS
from ..models import get_model_entry, is_known_model, list_models, model_options

FORMAT = "trainlab-checkpoint-1"
# Limits far above any run trainlab makes (the courses use <= 3 channels, 224 px, 1000 classes),
# low enough that building the model from them cannot exhaust memory.
MAX_CHANNELS = 4
MAX_SIDE = 1024
MAX_CLASSES = 10_000
MAX_NAME_LENGTH = 200
MAX_OPTION_INT = 8192  # widths, hidden units, features: a model of ~1e8 weights at most
MAX_OPTION_ITEMS = 64
MAX_FEATURES = 10_000  # table columns, or a sequence model's alphabet
MAX_STEPS = 100_000


def checkpoint_metadata(config, data) -> dict:
    """What a checkpoint needs to be used on its own: the model to build, the classes, and how
    an image must be prepared (plain JSON, stored inside the safetensors file)."""
    return {
        "format": FORMAT,
        "model": config.model,
        "model_options": config.model_options,
        "in_channels": data.in_channels,
        "num_classes": data.num_classes,
        "input_size": list(data.image_size),
        "class_names": data.class_names,
        "preprocessing": data.preprocessing(),
        "test_time_flip": config.test_time_flip,
        "task": data.task,
        "inputs": data.input_kind,
        "data": config.data,
        "trainlab_version": __version__,
        "torch_version": torch.__version__,
    }


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _option_problem(name: str, value, default) -> str | None:
    """Why `value` cannot be option `name` (whose default is `default`), or None."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if _is_int(default):
        return None if _is_int(value) and 0 < value <= MAX_OPTION_INT else \
            f"must be a whole number from 1 to {MAX_OPTION_INT}"
    if isinstance(default, float):
        return None if _is_number(value) else "must be a number"
    if isinstance(default, str):
        return None if isinstance(value, str) and len(value) <= MAX_NAME_LENGTH else \
            "must be a short text"
    if isinstance(default, (tuple, list)):
        if (isinstance(value, list) and 0 < len(value) <= MAX_OPTION_ITEMS
                and all(_is_int(v) and 0 < v <= MAX_OPTION_INT for v in value)):
            return None
        return f"must be a list of at most {MAX_OPTION_ITEMS} whole numbers from 1 to " \
               f"{MAX_OPTION_INT}"
    return None if value is None or isinstance(value, (bool, int, float, str)) else \
        "must be a plain value"


def metadata_problems(meta) -> list[str]:
    """Everything wrong with a checkpoint's metadata, one phrase each (empty: usable)."""
    if not isinstance(meta, dict):
        return ["its metadata is not a JSON object"]
    if "model" not in meta:
        return ["it has no trainlab metadata (model name, classes); it was not written by "
                "`trainlab train`"]
    if meta.get("format", FORMAT) != FORMAT:
        return [f"its format {str(meta['format'])[:40]!r} is not {FORMAT!r}"]
    model = meta["model"]
    if not isinstance(model, str) or not is_known_model(model):
        return [f"its model {str(model)[:40]!r} is not one trainlab has "
                f"(available: {', '.join(list_models())}, or tv:NAME for torchvision's)"]
    problems = []
    options = meta.get("model_options", {})
    accepted = model_options(model)
    if not isinstance(options, dict):
        problems.append("model_options is not a mapping")
    else:
        unknown = sorted(str(k)[:40] for k in options if k not in accepted)
        if unknown:
            problems.append(f"model {model!r} has no option(s) {', '.join(unknown)}")
        for key, value in options.items():
            problem = _option_problem(key, value, accepted[key]) if key in accepted else None
            if problem:
                problems.append(f"option {key} {problem}")
    if meta.get("inputs", "image") != "image":
        return problems + example_problems(meta)
    channels, classes = meta.get("in_channels"), meta.get("num_classes")
    if not (_is_int(channels) and 1 <= channels <= MAX_CHANNELS):
        problems.append(f"in_channels must be a whole number from 1 to {MAX_CHANNELS}")
    if not (_is_int(classes) and 2 <= classes <= MAX_CLASSES):
        problems.append(f"num_classes must be a whole number from 2 to {MAX_CLASSES}")
    size = meta.get("input_size")
    if not (isinstance(size, list) and len(size) == 2
            and all(_is_int(s) and 1 <= s <= MAX_SIDE for s in size)):
        problems.append(f"input_size must be [height, width], each from 1 to {MAX_SIDE}")
    names = meta.get("class_names")
    if not (isinstance(names, list) and len(names) <= MAX_CLASSES
            and all(isinstance(n, str) and len(n) <= MAX_NAME_LENGTH for n in names)):
        problems.append(f"class_names must be a list of at most {MAX_CLASSES} names of at most "
                        f"{MAX_NAME_LENGTH} characters")
    elif _is_int(classes) and len(names) != classes:
        problems.append(f"it lists {len(names)} class names for {classes} classes")
    prep = meta.get("preprocessing")
    if not isinstance(prep, dict):
        problems.append("preprocessing is missing or not a mapping")
    else:
        if prep.get("channels") != channels or prep.get("image_size") != size:
            problems.append("preprocessing's channels/image_size disagree with in_channels/"
                            "input_size")
        resize = prep.get("resize_size")
        if resize is not None and not (
                isinstance(resize, list) and len(resize) == 2 and isinstance(size, list)
                and all(_is_int(r) and _is_int(s) and s <= r <= MAX_SIDE
                        for r, s in zip(resize, size))):
            problems.append(f"preprocessing resize_size must be [height, width], each from the "
                            f"input size to {MAX_SIDE}")
        for key in ("mean", "std"):
            values = prep.get(key)
            if not (isinstance(values, list) and _is_int(channels) and len(values) == channels
                    and all(_is_number(v) for v in values)
                    and (key == "mean" or all(v > 0 for v in values))):
                problems.append(f"preprocessing {key} must hold one "
                                f"{'positive ' if key == 'std' else ''}number per channel")
        shuffle = prep.get("permute_pixels")
        if shuffle is not None and not (_is_int(shuffle) and shuffle >= 0):
            problems.append("preprocessing permute_pixels must be a whole number >= 0")
    return problems


def example_problems(meta: dict) -> list[str]:
    """What is wrong with a table or sequence model's metadata (the image checks' counterpart)."""
    problems = []
    kind, task = meta.get("inputs"), meta.get("task")
    if kind not in get_model_entry(meta["model"]).inputs:
        return [f"model {meta['model']!r} does not read {str(kind)[:20]!r} inputs"]
    if task not in TASKS:
        return [f"its task {str(task)[:20]!r} is not one of {', '.join(TASKS)}"]
    features, outputs, size = meta.get("in_channels"), meta.get("num_classes"), meta.get("input_size")
    if not (_is_int(features) and 1 <= features <= MAX_FEATURES):
        problems.append(f"in_channels must be a whole number from 1 to {MAX_FEATURES}")
    if not (_is_int(outputs) and 1 <= outputs <= MAX_CLASSES):
        problems.append(f"num_classes must be a whole number from 1 to {MAX_CLASSES}")
    if not (isinstance(size, list) and len(size) <= 1
            and all(_is_int(s) and 1 <= s <= MAX_STEPS for s in size)):
        problems.append(f"input_size must be [] or [steps], steps from 1 to {MAX_STEPS}")
    names = meta.get("class_names")
    wanted = {"classification": outputs, "binary": 2, "regression": 0}[task]
    if not (isinstance(names, list) and len(names) == wanted
            and all(isinstance(n, str) and len(n) <= MAX_NAME_LENGTH for n in names)):
        problems.append(f"a {task} model needs {wanted} class names")
    prep = meta.get("preprocessing")
    if not isinstance(prep, dict) or prep.get("inputs") != kind:
        problems.append("preprocessing is missing or is for other inputs")
    elif kind == "features" and not all(
            isinstance(prep.get(k), list) and len(prep[k]) == features
            and all(_is_number(v) for v in prep[k]) for k in ("mean", "std")):
        problems.append("preprocessing mean and std must hold one number per feature")
    elif kind == "tokens" and not (isinstance(prep.get("alphabet"), str)
                                   and len(prep["alphabet"]) < MAX_FEATURES):
        problems.append("preprocessing must hold the alphabet")
    return problems


def check_metadata(meta, path: Path) -> dict:
    """`meta` if it describes a model trainlab can build; else one CheckpointError naming `path`."""
    problems = metadata_problems(meta)
    if problems:
        raise CheckpointError(f"{path} cannot be used: " + "; ".join(problems[:6])
                              + (f" (and {len(problems) - 6} more)" if len(problems) > 6 else "")
                              + ". Use a checkpoint written by `trainlab train`.")
    return meta
