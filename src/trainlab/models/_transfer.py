"""Transfer learning: published or local weights into a model, its head, freezing the backbone.

Published weights come through torchvision's weights API and its cache (torch.hub's
`checkpoints/` folder), never from trainlab's own download code. trainlab's `resnet18` takes
torchvision's resnet18 weights through the existing name mapping.
"""
from __future__ import annotations

import os
import types
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn as nn

from . import torchvision_zoo
from .resnet import ResNet18, map_torchvision_resnet18_state


class WeightsError(ValueError):
    """Weights that cannot be had or do not fit; one sentence naming the file and what to do."""


def torchvision_counterpart(model_name: str) -> str | None:
    """The torchvision model whose published weights and preprocessing `model_name` uses:
    tv:NAME -> NAME, trainlab's resnet18 -> resnet18 (through the name mapping), else None."""
    if torchvision_zoo.is_torchvision_model(model_name):
        return torchvision_zoo.torchvision_name(model_name)
    return "resnet18" if model_name == "resnet18" else None


def published_weights(model_name: str):
    """torchvision's recommended weights (an enum member) for `model_name`, or WeightsError."""
    counterpart = torchvision_counterpart(model_name)
    if counterpart is None:
        raise WeightsError(f"--pretrained: model {model_name!r} has no published weights; use "
                           "tv:NAME (e.g. tv:resnet18) or resnet18, or --weights FILE")
    return torchvision_zoo.default_weights(counterpart)


def weights_preprocessing(model_name: str) -> dict:
    """How the published weights were trained to see an image: resize, centre crop, mean/std,
    3 channels (torchvision's `weights.transforms()`; known offline)."""
    transform = published_weights(model_name).transforms()
    return {"resize_size": int(transform.resize_size[0]), "crop_size": int(transform.crop_size[0]),
            "mean": [float(v) for v in transform.mean], "std": [float(v) for v in transform.std],
            "channels": 3}


def cached_weights_file(weights) -> Path:
    """Where torchvision's weights API keeps `weights` once downloaded: torch.hub's cache,
    $TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints)."""
    name = os.path.basename(urlparse(weights.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def published_state_dict(model_name: str, echo=print) -> dict:
    """The published weights' state dict, from the cache or downloaded into it by torchvision.
    Offline with nothing cached: one WeightsError naming the file, its address and the folder."""
    weights = published_weights(model_name)
    cached = cached_weights_file(weights)
    if not cached.is_file():
        echo(f"downloading {weights} to {cached} (once; later runs read the cache)")
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as error:  # URLError is an OSError; a bad hash a RuntimeError
        if cached.is_file():
            raise WeightsError(f"--pretrained: {cached} could not be read ({error}); delete it "
                               "and run again to download it anew") from error
        raise WeightsError(
            f"--pretrained: the weights file {cached.name} is not in torchvision's cache and "
            f"could not be downloaded ({str(error).splitlines()[0][:120]}); on a machine with "
            f"network, download {weights.url} and put it at {cached} (the cache folder is "
            "$TORCH_HOME/hub/checkpoints; set TORCH_HOME to use another), or pass the file "
            "with --weights FILE") from error


def read_weights_file(path: str | Path) -> dict:
    """A state dict from a .safetensors file or a .pth/.pt file read with weights_only=True (no
    code in the file runs). A checkpoint dict holding it under "state_dict" or "model" works too."""
    from ..engine.checkpoint import CheckpointError, load_state_dict

    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"--weights {path}: no such file")
    try:
        state = load_state_dict(path)
    except CheckpointError as error:
        raise WeightsError(f"--weights {path}: {error}") from error
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not (isinstance(state, dict) and state
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())):
        raise WeightsError(f"--weights {path}: not a state dict (a mapping of names to tensors)")
    return state


def head_module(model: nn.Module) -> nn.Module:
    """The layer(s) that map features to classes: `head` on trainlab's models, the layer named by
    `head_path` on torchvision's."""
    path = getattr(model, "head_path", None)
    return model.get_submodule(path) if path else model.head


def head_parameter_names(model: nn.Module) -> set[str]:
    head = {id(p) for p in head_module(model).parameters()}
    return {name for name, p in model.named_parameters() if id(p) in head}


def load_weights(model: nn.Module, model_name: str, state: dict, source: str) -> str:
    """Load `state` into `model` except the classifier head, which stays as built for the data's
    classes when its shape differs. Returns what was done, in words; WeightsError naming
    `source` when the backbone does not fit."""
    if isinstance(model, ResNet18) and "conv1.weight" in state:  # torchvision's names
        state = map_torchvision_resnet18_state(state, torch.zeros_like(model.net[0][0].bias))
    own = model.state_dict()
    head = head_parameter_names(model)
    missing = [k for k in own if k not in state and k not in head]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape and k not in head]
    if missing or unexpected or wrong:
        parts = [f"{what}: {', '.join(keys[:4])}" + (f" (+{len(keys) - 4})" if len(keys) > 4 else "")
                 for what, keys in (("missing", missing), ("not in the model", unexpected),
                                    ("other shape", wrong)) if keys]
        raise WeightsError(f"{source} does not fit model {model_name!r} ({'; '.join(parts)}); "
                           "use weights saved from the same architecture")
    replaced = sorted(k for k in head if k not in state or state[k].shape != own[k].shape)
    kept = {k: v for k, v in state.items() if k not in replaced}
    model.load_state_dict(kept, strict=False)
    if replaced:
        return (f"loaded {len(kept)} tensors from {source}; new head for the data's classes "
                f"({', '.join(replaced)})")
    return f"loaded {len(kept)} tensors from {source}, the head's included (same classes)"


def _stay_in_eval(module: nn.Module, mode: bool = True) -> nn.Module:
    return module  # a frozen BatchNorm ignores model.train(): its statistics must not move


def freeze_backbone(model: nn.Module) -> tuple[int, int]:
    """Train only the head: every other parameter stops needing gradients and every BatchNorm
    outside the head stays in evaluation mode (using, never updating, its running statistics,
    as Keras does for frozen layers). Returns (frozen, trainable) parameter counts."""
    in_head = {id(m) for m in head_module(model).modules()}
    head_names = head_parameter_names(model)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name in head_names)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and id(module) not in in_head:
            module.eval()
            module.train = types.MethodType(_stay_in_eval, module)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return frozen, sum(p.numel() for p in model.parameters() if p.requires_grad)


def split_head_parameters(model: nn.Module) -> tuple[list, list]:
    """(head parameters, all the others), for two optimizer groups."""
    head = head_parameter_names(model)
    params = dict(model.named_parameters())
    return [params[n] for n in params if n in head], [params[n] for n in params if n not in head]
