"""Tables and sequences in memory: the non-image counterpart of `Split` and `ImageDataset`.

What a model reads is said by `inputs` (the same words models register with):

    features  float (N, F) table rows, standardised with the training split's mean and std
    series    float (N, T, F) sequences of F numbers per step (seed 000's sin -> cos)
    tokens    int64 (N, T) symbol indices; for names, 0 is padding and a name's length is its
              count of non-zero symbols, so a batch stays one tensor (the model packs it)

and what its outputs mean by `task` (engine/tasks.py: classification, binary, regression).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

INPUT_KINDS = ("image", "features", "series", "tokens")


@dataclass
class Examples:
    """One split: model inputs and their labels (class indices, or float targets)."""

    inputs: torch.Tensor
    labels: torch.Tensor
    padded: bool = False  # tokens padded with 0 at the end: loaders cut batches to the longest

    def __post_init__(self):
        if len(self.inputs) != len(self.labels):
            raise ValueError(f"{len(self.inputs)} inputs but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> Examples:
        return Examples(self.inputs[index], self.labels[index], self.padded)


@dataclass
class ExampleSource:
    """What a table or sequence source returns (the counterpart of `SourceData`)."""

    train: Examples
    task: str
    inputs: str  # one of INPUT_KINDS
    class_names: list[str]  # [] for regression
    test: Examples | None = None
    dev: Examples | None = None
    origin: str = ""
    notes: list[str] = field(default_factory=list)
    # What predict needs besides the weights: feature names, the symbol alphabet, ...
    preprocessing: dict = field(default_factory=dict)
    standardise: bool = False  # features: scale each column by train's mean and std


@dataclass
class ExampleDataset:
    """A table or sequence data set ready for training; the attributes `train` uses match
    `ImageDataset`'s, so one workflow serves both."""

    name: str
    task: str
    input_kind: str
    class_names: list[str]
    train: Examples
    dev: Examples
    test: Examples
    preprocessing_info: dict
    notes: list[str] = field(default_factory=list)
    origin: str = ""
    problems: list[str] = field(default_factory=list)
    passed_over: list[str] = field(default_factory=list)
    mean = None  # the loader normalises nothing: features were standardised once, up front
    std = None

    @property
    def in_channels(self) -> int:
        """Features per row or step; for tokens, the size of the alphabet."""
        if self.input_kind == "tokens":
            return int(self.preprocessing_info["vocabulary_size"])
        return self.train.inputs.shape[-1]

    @property
    def image_size(self) -> tuple[int, ...]:
        """() for table rows; (T,) the sequence length for sequences (the longest, for names)."""
        return () if self.input_kind == "features" else (self.train.inputs.shape[1],)

    @property
    def num_classes(self) -> int:
        """The model's number of outputs: classes, 1 for binary, targets per step for
        regression."""
        if self.task == "classification":
            return len(self.class_names)
        if self.task == "binary":
            return 1
        return self.train.labels.shape[-1]

    def preprocessing(self) -> dict:
        return {"inputs": self.input_kind, **self.preprocessing_info}

    def describe(self) -> str:
        total = len(self.train) + len(self.dev) + len(self.test)
        what = {"classification": f"{len(self.class_names)} classes",
                "binary": f"binary: {' / '.join(self.class_names)}",
                "regression": "regression"}[self.task]
        shape = "x".join(str(s) for s in self.train.inputs.shape[1:])
        return (f"loaded {total} examples ({what}) from {self.origin or self.name}: "
                f"{len(self.train)} train / {len(self.dev)} dev / {len(self.test)} test, "
                f"{self.input_kind} {shape}")
