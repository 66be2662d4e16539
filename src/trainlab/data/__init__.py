"""Data sets as uint8 tensors, batched transforms and the in-memory loader.

One file per source (`embedded.py`, `torchvision_sets.py`, `folder.py`, `csv_labels.py`); each
registers itself on import.
"""
from . import csv_labels, embedded, folder, names, sequences, tables, torchvision_sets  # noqa: F401  (registering imports)
from ._examples import INPUT_KINDS, ExampleDataset, Examples, ExampleSource
from ._registry import (
    BAD_SAMPLE_POLICIES,
    absolute_data_spec,
    check_dataset,
    create_dataset,
    data_label,
    list_datasets,
    register_dataset,
)
from ._split_record import record_splits, split_changes
from ._types import DataError, ImageDataset, SourceData, Split
from .for_weights import match_weights
from .loaders import TensorLoader
from .torchvision_sets import CIFAR10_CLASSES, FASHION_MNIST_CLASSES
from .transforms import AUGMENTATIONS

__all__ = [
    "create_dataset", "check_dataset", "absolute_data_spec", "data_label", "BAD_SAMPLE_POLICIES",
    "list_datasets",
    "register_dataset", "DataError", "ImageDataset",
    "SourceData", "Split", "TensorLoader", "AUGMENTATIONS", "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES", "record_splits", "split_changes", "match_weights",
    "Examples", "ExampleSource", "ExampleDataset", "INPUT_KINDS",
]
