"""Tiny data in every on-disk format trainlab reads, written the way the real files are.

Images are class-dependent so a model can learn them: class k is a bright square at a position
that depends on k, on a noisy background. (torchvision's tests use the same idea: fake files in
the real format.)
"""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def class_image(label: int, size: int = 12, channels: int = 1, rng=None) -> np.ndarray:
    """An (H, W[, C]) uint8 image whose bright patch position encodes `label`."""
    rng = rng or np.random.default_rng(label)
    image = rng.integers(0, 40, size=(size, size, channels), dtype=np.uint8)
    row, col = divmod(label % 4, 2)
    half = size // 2
    image[row * half: row * half + half, col * half: col * half + half] = 220
    if label >= 4:  # more classes: invert the patch colour
        image = 255 - image
    return image[:, :, 0] if channels == 1 else image


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def make_idx_dataset(folder: Path, n_train=60, n_test=20, size=28, classes=4, compress=True):
    """MNIST-format files (train-images-idx3-ubyte[.gz] ...) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % classes
        images = np.stack([class_image(int(k), size, rng=rng) for k in labels])
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, compress)
    return folder


def make_cifar_batches(root: Path, per_batch=10, classes=10):
    """cifar-10-batches-py/ with data_batch_1..5, test_batch, batches.meta (real pickle format)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [int(k) for k in rng.integers(0, classes, per_batch)]
        images = np.stack([class_image(k, 32, 3, rng) for k in labels])  # (N, 32, 32, 3)
        batch = {b"batch_label": name.encode(), b"labels": labels,
                 b"data": images.transpose(0, 3, 1, 2).reshape(per_batch, -1),
                 b"filenames": [f"{i}.png".encode() for i in range(per_batch)]}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": [b"c%d" % i for i in range(classes)]}, handle)
    return root


def make_image_folder(root: Path, classes=("cat", "dog", "fox"), per_class=8, size=16,
                      mode="RGB", ext=".png"):
    """root/<class>/<i>.png, ImageFolder style."""
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            array = class_image(label, size, 3 if mode == "RGB" else 1,
                                np.random.default_rng(100 * label + i))
            Image.fromarray(array).convert(mode).save(root / name / f"{i}{ext}")
    return root


def make_csv_dataset(root: Path, n=24, classes=("airplane", "ship", "truck"), size=16,
                     integer_labels=False):
    """Seed 000's layout: root/trainLabels.csv (`id,label`) and root/train/<id>.png."""
    (root / "train").mkdir(parents=True, exist_ok=True)
    lines = ["id,label"]
    for i in range(1, n + 1):
        label = i % len(classes)
        array = class_image(label, size, 3, np.random.default_rng(i))
        Image.fromarray(array).save(root / "train" / f"{i}.png")
        lines.append(f"{i},{label if integer_labels else classes[label]}")
    (root / "trainLabels.csv").write_text("\n".join(lines) + "\n")
    return root


def tiny_mlp_args(batch_size: int) -> list[str]:
    """`trainlab train` flags for the smallest useful run: a one-epoch, 8-unit MLP, no log lines."""
    return ["--model", "mlp", "--option", "hidden=[8]", "--epochs", "1", "--batch-size",
            str(batch_size), "--log-steps", "0"]


def write_table(path: Path, n=60, features=3, task="binary", header=True, seed=0,
                target_first=False) -> Path:
    """A CSV table (gzip when `path` ends in .gz) whose target follows from its features:
    binary (x0 + x1 > 0), three classes (by x0) or regression (2 x0 - x1 + noise)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)) * 3 + 10
    z = x - 10
    if task == "binary":
        y = [str(int(a + b > 0)) for a, b in z[:, :2]]
    elif task == "classes":
        y = [("low", "mid", "high")[int(np.digitize(a, [-1.0, 1.0]))] for a in z[:, 0]]
    else:
        y = [f"{2 * a - b + 0.1 * e:.4f}" for a, b, e in zip(z[:, 0], z[:, 1], rng.normal(size=n))]
    names = [f"f{i}" for i in range(features)]
    lines = []
    if header:
        lines.append(",".join(["label", *names] if target_first else [*names, "label"]))
    for row, label in zip(x, y):
        cells = [f"{v:.4f}" for v in row]
        lines.append(",".join([label, *cells] if target_first else [*cells, label]))
    text = "\n".join(lines) + "\n"
    if str(path).endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


NAME_ENDINGS = {"Japanese": "moto", "Swedish": "sson", "Spanish": "ez"}


def make_names(n_per_label=20, seed=0) -> list[tuple[str, str]]:
    """(name, label) rows a model can learn: each label's names share an ending."""
    rng = np.random.default_rng(seed)
    letters = "abcdefghiklmnoprstuvy"
    rows = []
    for label, ending in NAME_ENDINGS.items():
        for _ in range(n_per_label):
            stem = "".join(rng.choice(list(letters), size=rng.integers(2, 6)))
            rows.append((stem.capitalize() + ending, label))
    return rows


def write_names_csv(path: Path, rows, header=True) -> Path:
    text = ("name,label\n" if header else "") + "".join(f"{name},{label}\n" for name, label in rows)
    path.write_bytes(gzip.compress(text.encode()) if path.suffix == ".gz" else text.encode())
    return path


def write_names_folder(folder: Path, rows) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for label in sorted({label for _, label in rows}):
        (folder / f"{label}.txt").write_text("".join(f"{name}\n" for name, other in rows
                                                     if other == label))
    return folder
