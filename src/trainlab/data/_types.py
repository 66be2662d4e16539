"""The in-memory form every data source is turned into.

Small-image data sets are held whole as uint8 tensors (N, C, H, W): 70,000 Fashion-MNIST images are
55 MB, so there is no reason to decode, convert and normalise one sample at a time in Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


class DataError(ValueError):
    """Bad or missing input data. The message names the file/row and says what to do."""


MAX_LISTED_PROBLEMS = 50


def format_problems(problems: list[str]) -> str:
    """The first 50 problems, one per line, and how many more."""
    shown = "\n  ".join(problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    return "  " + shown + (f"\n  ... and {more} more" if more > 0 else "")


def raise_problems(problems: list[str], what: str) -> None:
    """One error listing every offender, so a user fixes them all in one go."""
    if problems:
        raise DataError(f"{len(problems)} problem(s) in {what}:\n{format_problems(problems)}\n"
                        "Fix or remove these files, or pass --on-bad-sample skip to leave them "
                        "out, then run again.")


@dataclass
class Split:
    images: torch.Tensor  # uint8, (N, C, H, W)
    labels: torch.Tensor  # int64, (N,)

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise TypeError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                            f"{tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        self.labels = self.labels.long()

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> Split:
        return Split(self.images[index], self.labels[index])


@dataclass
class SourceData:
    """What a data-source builder returns: its own splits, and whatever else it knows."""

    train: Split
    class_names: list[str]
    test: Split | None = None
    dev: Split | None = None  # a validation split the source ships (e.g. folder/val)
    mean: tuple[float, ...] | None = None  # published statistics; computed from train if None
    std: tuple[float, ...] | None = None
    default_image_size: int | None = None  # e.g. digits are upscaled 8 -> 32 for ResNet-18
    notes: list[str] = field(default_factory=list)  # said to the user once, e.g. "carved test"
    # Samples left out because they are bad (each "path/row: reason"), out of `candidates`
    # samples; and problems no skipping can fix (e.g. an empty class folder).
    problems: list[str] = field(default_factory=list)
    candidates: int = 0
    fatal: list[str] = field(default_factory=list)


@dataclass
class ImageDataset:
    """A data set ready for training: three splits plus how to preprocess an image for the model."""

    name: str
    class_names: list[str]
    train: Split
    dev: Split
    test: Split
    mean: tuple[float, ...]
    std: tuple[float, ...]
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # bad samples that were left out

    @property
    def in_channels(self) -> int:
        return self.train.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.train.images.shape[2:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def preprocessing(self) -> dict:
        """Everything `predict` needs to turn a user's image file into model input (JSON-able)."""
        return {"channels": self.in_channels, "image_size": list(self.image_size),
                "mean": list(self.mean), "std": list(self.std)}

    def describe(self) -> str:
        c, (h, w) = self.in_channels, self.image_size
        return (f"{self.name}: {len(self.train)} train / {len(self.dev)} dev / {len(self.test)} "
                f"test images, {c}x{h}x{w}, {self.num_classes} classes")
