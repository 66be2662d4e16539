"""The in-memory form every data source is turned into.

Small-image data sets are held whole as uint8 tensors (N, C, H, W): 70,000 Fashion-MNIST images are
55 MB, so there is no reason to decode, convert and normalise one sample at a time in Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


class DataError(ValueError):
    """Bad or missing input data. The message names the file/row and says what to do."""


class SampleProblems(DataError):
    """A reader's every problem (`problems`, what `trainlab check-data` lists in full); the
    message shows the first ones and says what to do."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


MAX_LISTED_PROBLEMS = 50


def check_data_hint(spec: str) -> str:
    """Where a message that shows the first problems sends the reader for all of them."""
    return f"`trainlab check-data {spec}` lists them all"


def format_problems(problems: list[str], full_list: str = "`trainlab check-data` lists them "
                    "all") -> str:
    """The first 50 problems, one per line, and how many more (and where all of them are)."""
    shown = "\n  ".join(problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    return "  " + shown + (f"\n  ... and {more} more ({full_list})" if more > 0 else "")


# Where a note that lists only a few passed-over files sends the reader for all of them.
PASSED_OVER_LISTED = "all listed by `trainlab check-data` and in a run's bad-samples.txt"

SKIP_ADVICE = ("Fix or remove these files, or pass --on-bad-sample skip to leave them out, then "
               "run again.")
FATAL_ADVICE = ("--on-bad-sample skip cannot fix these: each class needs images, and every "
                "class in val/test needs a training folder. Fix them, then run again.")


def raise_problems(fatal: list[str], skippable: list[str], what: str) -> None:
    """One error listing every offender, so a user fixes them all in one go. `fatal` problems
    (e.g. an empty class folder) are listed apart: leaving out bad samples does not fix them."""
    if not fatal and not skippable:
        return
    if not fatal:
        raise DataError(f"{len(skippable)} problem(s) in {what}:\n"
                        f"{format_problems(skippable, check_data_hint(what))}\n"
                        + SKIP_ADVICE)
    message = f"{len(fatal)} problem(s) in {what} that must be fixed:\n" \
              f"{format_problems(fatal, check_data_hint(what))}\n" \
              + FATAL_ADVICE
    if skippable:
        message += (f"\nAlso {len(skippable)} bad sample(s), which --on-bad-sample skip would "
                     f"leave out:\n{format_problems(skippable, check_data_hint(what))}")
    raise DataError(message)


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
    origin: str = ""  # where the images were read from, e.g. "folder /data/pets"
    notes: list[str] = field(default_factory=list)  # said to the user once, e.g. "carved test"
    # Samples left out because they are bad (each "path/row: reason"), out of `candidates`
    # samples; and problems no skipping can fix (e.g. an empty class folder).
    problems: list[str] = field(default_factory=list)
    candidates: int = 0
    fatal: list[str] = field(default_factory=list)
    # Files not read at all, each "path: why" (e.g. no image extension): named, not problems.
    passed_over: list[str] = field(default_factory=list)


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
    origin: str = ""  # where the images were read from (SourceData.origin)
    passed_over: list[str] = field(default_factory=list)  # SourceData.passed_over
    # Set when images were resized to this (height, width) and then centre-cropped to
    # image_size (pretrained weights' preprocessing); predict does the same to a new image.
    resize_size: tuple[int, int] | None = None
    permute_pixels: int | None = None  # seed of the fixed pixel shuffle applied to every split
    task = "classification"  # what ExampleDataset says per data set (engine/tasks.py)
    input_kind = "image"

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
        preprocessing = {"channels": self.in_channels, "image_size": list(self.image_size),
                         "mean": list(self.mean), "std": list(self.std)}
        if self.resize_size is not None:
            preprocessing["resize_size"] = list(self.resize_size)
        if self.permute_pixels is not None:  # predict must shuffle a user's image the same way
            preprocessing["permute_pixels"] = self.permute_pixels
        return preprocessing

    def describe(self) -> str:
        c, (h, w) = self.in_channels, self.image_size
        total = len(self.train) + len(self.dev) + len(self.test)
        return (f"loaded {total} images ({self.num_classes} classes) from "
                f"{self.origin or self.name}: {len(self.train)} train / {len(self.dev)} dev / "
                f"{len(self.test)} test, {c}x{h}x{w}"
                + (f", {len(self.problems)} bad left out" if self.problems else ""))
