"""MNIST, Fashion-MNIST and CIFAR-10 in torchvision's on-disk layouts (and Debian's).

Files are looked for in `--data-dir` (torchvision's `root`); when missing, `--download` uses
torchvision's own download code, and otherwise the error says which files to put where.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ._formats import read_cifar_batch, read_idx
from ._registry import register_dataset
from ._types import DataError, SourceData, Split

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find_idx_file(stem: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _load_idx_set(folders: list[Path]) -> dict[str, Split] | None:
    splits = {}
    for split, stems in IDX_FILES.items():
        paths = [_find_idx_file(stem, folders) for stem in stems]
        if None in paths:
            return None
        images, labels = (torch.from_numpy(read_idx(p).copy()) for p in paths)
        if images.dim() != 3 or len(images) != len(labels):
            raise DataError(f"{paths[0]} and {paths[1]} do not match: images {tuple(images.shape)},"
                            f" labels {tuple(labels.shape)}")
        splits[split] = Split(images.unsqueeze(1), labels.long())
    return splits


def _idx_source(title: str, torchvision_class: str, data_dir: Path, download: bool,
                extra_folders: list[Path], class_names, mean, std) -> SourceData:
    # torchvision's layout is root/<ClassName>/raw/; also accept the files directly in data_dir.
    folders = [data_dir / torchvision_class / "raw", data_dir / title, data_dir, *extra_folders]
    splits = _load_idx_set(folders)
    if splits is None and download:
        import torchvision.datasets

        getattr(torchvision.datasets, torchvision_class)(root=str(data_dir), download=True)
        splits = _load_idx_set(folders)
    if splits is None:
        wanted = ", ".join(s + "[.gz]" for stems in IDX_FILES.values() for s in stems)
        looked = "\n  ".join(str(f) for f in folders)
        raise DataError(
            f"{title} files not found. Put {wanted} in {data_dir / torchvision_class / 'raw'}, "
            f"or pass --data-dir, or add --download to fetch them.\nLooked in:\n  {looked}")
    origin = next(str(f) for f in folders if _find_idx_file(IDX_FILES["train"][0], [f]))
    return SourceData(train=splits["train"], test=splits["test"], class_names=class_names,
                      mean=mean, std=std, origin=f"{title} files in {origin}")


@register_dataset("mnist", "MNIST handwritten digits, 28x28 grey (torchvision layout, --download)")
def mnist(data_dir: Path, download=False, image_size=None) -> SourceData:
    return _idx_source("mnist", "MNIST", data_dir, download, [],
                       [str(d) for d in range(10)], (0.1307,), (0.3081,))


# Debian's package dataset-fashion-mnist installs the four .gz files here.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@register_dataset("fashion-mnist",
                  "Fashion-MNIST clothing, 28x28 grey (torchvision layout or Debian package)")
def fashion_mnist(data_dir: Path, download=False, image_size=None) -> SourceData:
    return _idx_source("fashion-mnist", "FashionMNIST", data_dir, download, [DEBIAN_FASHION_MNIST],
                       FASHION_MNIST_CLASSES, (0.2860,), (0.3530,))


CIFAR_FOLDER = "cifar-10-batches-py"


def _read_cifar(folder: Path, names: list[str]) -> Split:
    batches = [read_cifar_batch(folder / name) for name in names]
    data = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([np.asarray(b["labels"], dtype=np.int64) for b in batches])
    return Split(torch.from_numpy(data), torch.from_numpy(labels))


@register_dataset("cifar10", "CIFAR-10, 32x32 colour, 10 classes (torchvision python batches)")
def cifar10(data_dir: Path, download=False, image_size=None) -> SourceData:
    folder = data_dir / CIFAR_FOLDER
    train_names = [f"data_batch_{i}" for i in range(1, 6)]
    missing = [n for n in [*train_names, "test_batch"] if not (folder / n).is_file()]
    if missing and download:
        import torchvision.datasets

        torchvision.datasets.CIFAR10(root=str(data_dir), download=True)
        missing = [n for n in [*train_names, "test_batch"] if not (folder / n).is_file()]
    if missing:
        raise DataError(
            f"CIFAR-10 files missing in {folder}: {', '.join(missing)}. Extract "
            "cifar-10-python.tar.gz into --data-dir (it creates cifar-10-batches-py/), "
            "or add --download.")
    return SourceData(train=_read_cifar(folder, train_names), test=_read_cifar(folder, ["test_batch"]),
                      class_names=CIFAR10_CLASSES, mean=(0.4914, 0.4822, 0.4465),
                      std=(0.2470, 0.2435, 0.2616), origin=f"CIFAR-10 batches in {folder}")
