"""The training configuration: one dataclass, saved as YAML with every run.

Precedence: built-in defaults < `--recipe` < `--config run.yaml` < flags given on the command
line. Unknown keys are errors, so a typo in a YAML file cannot be silently ignored.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..data import (
    AUGMENTATIONS,
    BAD_SAMPLE_POLICIES,
    DataError,
    ExampleDataset,
    ImageDataset,
    absolute_data_spec,
    create_dataset,
    match_weights,
)
from ..engine import OPTIMIZERS, PRECISIONS, SCHEDULES, resolve_device, writing
from ..engine.compiling import COMPILE_MODES
from ..models import (
    ModelOptionError,
    check_model_options,
    is_known_model,
    is_torchvision_model,
    list_models,
    torchvision_counterpart,
    weights_preprocessing,
)


class ConfigError(ValueError):
    """A bad configuration value; the message names the key/flag."""


# Named sets of defaults, one per kind of device the run trains on ("cpu" also serves MPS).
# fast/cpu: the best Fashion-MNIST test accuracy found for at most 90 s of training on 2 cores
# (issue 12's goal, measured on an AMX Xeon; benchmarks/RESULTS.md). Widths 16-48-96 pooled
# before BN and ReLU (the stem's BN on 24 channels at full resolution was a third of the step
# on the AMX Xeon), 8 epochs and test-time flip: 0.9313 (3 seeds) on AMX, 69-78 s alone (the
# earlier 24-48-96 for 9 epochs: 0.9312 in 140-147 s), 0.9325 in 107-112 s on the AMD EPYC
# at half speed (earlier: 160 s). Tried (AMX, 3 seeds, no test-time flip): the same for 9
# epochs (0.9306, 1.4x as fast as the recipe before side by side; 8 epochs with the flip leave
# more room under 90 s), widths 16-32-96 (0.9278), 16-32-64 for 11 epochs (0.9279). Earlier:
# widths 32-64-128 for 7 epochs, crop+flip (too strong for 10 epochs), no label smoothing.
# cuda entries, measured on one H200 (torch 2.11; benchmarks/RESULTS.md, GPU section). fast:
# 0.9367 +- 0.0020 over 3 seeds; 3.4 s of training once cuDNN's algorithm timing is off (it cost
# 1.6 s of a 5 s run and found nothing faster for this net); 12 epochs gave 0.9329 in 2.8 s and
# 8 epochs 0.9220 in 1.9 s (3 seeds). best: widths 96-192-384, 0.9481 +- 0.0007 in 14.4 s
# (3 seeds); 64-128-256 gave 0.9467, 40 epochs 0.9481 in 20 s, label smoothing 0.2 0.9443.
# --compile made neither faster (fastcnn trains 0.63-0.88x as fast compiled) and costs 8-23 s of
# compiling, so both run eager. Batch 2048 with lr 0.8 lost accuracy (0.918).
# best/cpu keeps widths 64-128-256: one epoch took 85 s on the 2-core CPU (about 43 min in all).
_COMMON = dict(optimizer="sgd", momentum=0.9, weight_decay=5e-4, schedule="onecycle",
               label_smoothing=0.1, precision="auto")
_WIDE = dict(model="fastcnn", model_options={"widths": [64, 128, 256]}, batch_size=512,
             augment="crop-flip", lr=0.2, test_time_flip=True)
RECIPES: dict[str, dict[str, dict]] = {
    "fast": {
        "cpu": dict(_COMMON, model="fastcnn", model_options={"widths": [16, 48, 96], "pool_first": True},
                    epochs=8, batch_size=256, augment="flip", lr=0.1, test_time_flip=True),
        "cuda": dict(_COMMON, model="fastcnn", epochs=15, batch_size=1024, augment="flip",
                     lr=0.4, test_time_flip=True, cudnn_benchmark=False),
    },
    "best": {
        "cpu": dict(_COMMON, **_WIDE, epochs=30),
        "cuda": {**_COMMON, **_WIDE, "epochs": 30, "cudnn_benchmark": False,
                 "model_options": {"widths": [96, 192, 384]}},
    },
}


def recipe_settings(recipe: str, device: str) -> dict:
    """The recipe's settings for the kind of device `device` (e.g. auto, cpu, cuda:0) names."""
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
    kind = "cuda" if resolve_device(device).type == "cuda" else "cpu"
    return copy.deepcopy(RECIPES[recipe][kind])  # a run's config never shares the recipe's lists


@dataclass
class TrainConfig:
    model: str = "resnet18"
    model_options: dict = field(default_factory=dict)  # e.g. {use_residual: false, stem: cifar}
    pretrained: bool = False  # start from torchvision's published weights (tv:NAME, resnet18)
    weights: str | None = None  # start from this state dict (.pth/.pt or .safetensors)
    freeze: str = "none"  # backbone: train only the head (frozen BatchNorm statistics too)
    fine_tune: bool = False  # train the head alone first, then everything at a lower lr
    fine_tune_head_epochs: int = 1  # --fine-tune: epochs that train the head alone
    fine_tune_lr_factor: float = 0.1  # --fine-tune: lr after the head epochs, times --lr
    data: str = "digits"
    data_dir: str = "data"
    target: str | None = None  # table:PATH: the target column's name or number (default: last)
    drop_columns: list = dataclasses.field(default_factory=list)  # table:PATH columns left out
    download: bool = False
    image_size: int | None = None  # resize images to S x S (None: the data set's own size)
    dev_fraction: float = 0.1  # 0: no dev split (the model at the end is the best one)
    limit_train: int | None = None  # train on the first N training images only
    limit_dev: int | None = None  # evaluate during training on the first N dev images only
    limit_test: int | None = None  # score on the first N test images only (None: all)
    permute_pixels: int | None = None  # seed of one fixed pixel shuffle for every split
    augment: str = "none"
    drop_last: bool = False  # skip each epoch's last partial training batch (one batch shape)
    on_bad_sample: str = "error"  # error: stop listing every bad file/row; skip: leave them out
    max_bad_fraction: float = 0.05  # with skip: still stop if more than this share is bad
    epochs: int = 10
    batch_size: int = 128
    eval_batch_size: int = 1000
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    label_smoothing: float = 0.0
    clip_grad_norm: float | None = None  # clip the norm of all gradients to this (seed 000)
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # bf16 where the device has native bf16, else fp32
    eval_steps: int = 0  # 0: evaluate on the dev split at the end of every epoch
    log_steps: int = 100
    checkpoint_steps: int = 500  # also save a resume checkpoint every N steps (0: epoch ends only)
    keep_resume: bool = False  # keep resume.pt/resume-prev.pt after the run finishes
    deterministic: bool = False  # PyTorch's deterministic algorithms (slower on GPU)
    cudnn_benchmark: bool = True  # CUDA: time cuDNN's algorithms once per shape (off: heuristics)
    compile: str = "none"  # torch.compile mode for the training step (none: eager)
    test_time_flip: bool = False  # evaluate/predict on each image and its mirror, averaged
    tensorboard: bool = False  # also write TensorBoard events to RUN/tensorboard/
    out: str | None = None  # run directory; default runs/<model>-<data>-<time>
    recipe: str | None = None  # the recipe these settings started from, if any

    def validate(self) -> TrainConfig:
        if not is_known_model(self.model):
            raise ConfigError(f"model = {self.model!r} is not one of: {', '.join(list_models())}, "
                              "or tv:NAME for a torchvision model (`trainlab models` lists them)")
        choices = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "augment": AUGMENTATIONS,
                   "precision": ("auto", *PRECISIONS),
                   "on_bad_sample": BAD_SAMPLE_POLICIES, "compile": COMPILE_MODES}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} = {getattr(self, key)!r} is not one of: "
                                  f"{', '.join(allowed)}")
        at_least = {"epochs": 1, "batch_size": 1, "eval_batch_size": 1, "image_size": 1,
                    "limit_train": 1, "limit_dev": 1, "limit_test": 1, "eval_steps": 0, "log_steps": 0,
                    "checkpoint_steps": 0, "seed": 0, "permute_pixels": 0}
        for key, low in at_least.items():
            value = getattr(self, key)
            if value is None and key in ("image_size", "limit_train", "limit_dev", "limit_test",
                                         "permute_pixels"):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{flag(key)} ({key}) must be a whole number >= {low}, "
                                  f"got {value!r}")
        self._validate_transfer()
        if not 0 <= self.dev_fraction < 1:
            raise ConfigError(f"--dev-fraction (dev_fraction) must be at least 0 and below 1 "
                              f"(0: no dev split), got {self.dev_fraction}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.clip_grad_norm is not None and not (isinstance(self.clip_grad_norm, (int, float))
                                                    and self.clip_grad_norm > 0):
            raise ConfigError(f"--clip-grad-norm must be a positive number, got "
                              f"{self.clip_grad_norm!r}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if not isinstance(self.model_options, dict):
            raise ConfigError(f"model_options must be a mapping, got {self.model_options!r}")
        if not isinstance(self.drop_columns, list) \
                or not all(isinstance(c, (str, int)) for c in self.drop_columns):
            raise ConfigError(f"drop_columns must be a list of column names, got "
                              f"{self.drop_columns!r}")
        self.drop_columns = [str(c) for c in self.drop_columns]
        try:  # typed values ("false" -> False, "[4,8]" -> [4, 8]), checked before anything runs
            self.model_options = check_model_options(self.model, self.model_options)
        except ModelOptionError as error:
            raise ConfigError(str(error)) from None
        return self

    def _validate_transfer(self) -> None:
        if self.freeze not in FREEZE_CHOICES:
            raise ConfigError(f"--freeze {self.freeze!r} is not one of: {', '.join(FREEZE_CHOICES)}")
        if self.pretrained and self.weights:
            raise ConfigError("--pretrained and --weights both give starting weights; use one")
        if self.pretrained and torchvision_counterpart(self.model) is None:
            raise ConfigError(f"--pretrained: model {self.model!r} has no published weights; use "
                              "tv:NAME (e.g. tv:resnet18) or resnet18, or --weights FILE")
        if self.weights and not Path(self.weights).expanduser().is_file():
            raise ConfigError(f"--weights {self.weights}: no such file")
        starts_trained = self.pretrained or self.weights
        if self.fine_tune and self.freeze != "none":
            raise ConfigError("--fine-tune already trains the head alone first; drop --freeze "
                              "(or drop --fine-tune to keep the backbone frozen throughout)")
        if (self.fine_tune or self.freeze != "none") and not starts_trained:
            what = "--fine-tune" if self.fine_tune else f"--freeze {self.freeze}"
            raise ConfigError(f"{what} keeps a trained backbone: add --pretrained or --weights "
                              "FILE")
        if self.fine_tune and not 1 <= self.fine_tune_head_epochs < self.epochs:
            raise ConfigError(f"fine_tune_head_epochs ({self.fine_tune_head_epochs}) must be at "
                              f"least 1 and below --epochs ({self.epochs}), so both stages run")
        if self.fine_tune and not 0 < self.fine_tune_lr_factor <= 1:
            raise ConfigError(f"fine_tune_lr_factor must be in (0, 1], got "
                              f"{self.fine_tune_lr_factor}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        with writing(path):
            path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


FREEZE_CHOICES = ("none", "backbone")


# Settings that may change when a run is resumed: they do not change what is computed.
RESUMABLE_CHANGES = {"device", "log_steps", "out", "eval_batch_size", "download", "data_dir",
                     "keep_resume", "tensorboard"}


def flag(key: str) -> str:
    """The command-line flag for a config key: batch_size -> --batch-size."""
    return "--" + key.replace("_", "-")


def config_differences(old: TrainConfig, new: TrainConfig) -> list[str]:
    """'key: old -> new' for each setting that differs and would change the result."""
    a, b = old.to_dict(), new.to_dict()
    a["data"], b["data"] = absolute_data_spec(a["data"]), absolute_data_spec(b["data"])  # (as saved)
    return [f"{key}: {a[key]!r} -> {b[key]!r}" for key in a
            if a[key] != b[key] and key not in RESUMABLE_CHANGES]


def with_data(config: TrainConfig, moved_to: str | None) -> TrainConfig:
    """`config` reading its data from `moved_to` (a data spec: where a run's data is now), where
    given. The run's own record (config.yaml, checkpoints) keeps the spec it was trained with."""
    if not moved_to:
        return config
    return dataclasses.replace(config, data=absolute_data_spec(moved_to))


def check_data_is_there(spec: str) -> None:
    """A run's saved data path that no longer exists: one sentence saying how to name its new
    place (`--data`, which evaluate, plot and resume take), instead of the reader's error."""
    kind, _, place = spec.partition(":")
    if place and not Path(place).expanduser().exists():
        raise DataError(f"{kind} data set {place} is not there any more; if it moved, or the run "
                        f"came from another machine, name its new place with --data {kind}:NEW_PATH")


def dataset_for(config: TrainConfig) -> ImageDataset | ExampleDataset:
    """The data set a config describes (the same splits for train, resume and evaluate).

    Starting from torchvision's weights (--pretrained, or --weights with a tv: model or
    resnet18), images get the weights' own preprocessing: resized to its resize size (or
    --image-size, then not cropped), centre-cropped, 3 channels, its mean/std. torchvision's
    models always get 3 channels."""
    preprocessing = None
    if (config.pretrained or config.weights) and torchvision_counterpart(config.model):
        preprocessing = weights_preprocessing(config.model)
    image_size = config.image_size or (preprocessing and preprocessing["resize_size"])
    data = create_dataset(config.data, data_dir=config.data_dir, image_size=image_size,
                          dev_fraction=config.dev_fraction, limit_train=config.limit_train,
                          limit_dev=config.limit_dev, limit_test=config.limit_test,
                          permute_pixels=config.permute_pixels, target=config.target,
                          drop_columns=config.drop_columns,
                          on_bad_sample=config.on_bad_sample,
                          max_bad_fraction=config.max_bad_fraction, download=config.download)
    if preprocessing:
        why = f"torchvision's published {torchvision_counterpart(config.model)} weights"
        return match_weights(data, 3, preprocessing["mean"], preprocessing["std"],
                             None if config.image_size else preprocessing["crop_size"], why)
    if is_torchvision_model(config.model):
        return match_weights(data, 3, why=f"torchvision's {config.model}")
    return data


def config_keys() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def read_config_file(path: str | Path) -> dict:
    """Values from a YAML file (a saved run's config.yaml works), checked for unknown keys."""
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must hold a mapping of keys to values")
    unknown = sorted(set(values) - set(config_keys()))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; valid keys: "
                          f"{', '.join(config_keys())}")
    return values


def build_config(file: str | Path | None = None, **overrides) -> TrainConfig:
    """Defaults, then the YAML file's values, then `overrides` (e.g. the flags a user typed)."""
    from_file = read_config_file(file) if file else {}
    recipe = overrides.get("recipe") or from_file.get("recipe")
    device = overrides.get("device") or from_file.get("device") or "auto"
    # A run's own config.yaml holds every setting as it trained; a setting added to trainlab since
    # takes its default (the behaviour of the run's time), not what the recipe says today.
    values = recipe_settings(recipe, device) if recipe and not is_saved_run_config(file) else {}
    # A file's model_options are the whole set: a run's config.yaml reproduces the run even after
    # its recipe changed (saved `{}` means the model's defaults). Flags merge.
    values = on_top(values, from_file, merge_options=False)
    return TrainConfig(**on_top(values, overrides, merge_options=True)).validate()


def on_top(values: dict, layer: dict, merge_options: bool) -> dict:
    """`values` with a later layer's (the file's, the flags') on top, key by key. Model options
    set for one model are dropped when the layer names another (`--recipe fast --model
    resnet18`); with `merge_options` the layer's merge with those so far, option by option
    (`--recipe fast --option widths=[24,48,96]` keeps the recipe's other options)."""
    merged = {**values, **layer}
    model = values.get("model", TrainConfig.model)
    if layer.get("model", model) != model:
        merged["model_options"] = layer.get("model_options", {})
    elif merge_options and isinstance(layer.get("model_options"), dict) \
            and isinstance(values.get("model_options"), dict):  # (else validate() says what)
        merged["model_options"] = {**values["model_options"], **layer["model_options"]}
    return merged


def is_saved_run_config(path: str | Path | None) -> bool:
    """Whether `path` is a run directory's config.yaml (beside the run's metrics.csv)."""
    return path is not None and Path(path).name == "config.yaml" \
        and (Path(path).parent / "metrics.csv").is_file()
