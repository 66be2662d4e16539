"""Pictures of images: sample grids, the most confidently wrong predictions, confused pairs.

Images come in as the data sets hold them, uint8 (N, C, H, W), and are shown in their real
colours (or grey), un-normalised. The data parts (`pick_samples`, `most_confidently_wrong`,
`most_confused`) are plain functions, so they are tested exactly; `plot_*` only draw them.

    >>> most_confused([[5, 2], [0, 7]], ["cat", "dog"], k=3)
    [('cat', 'dog', 2)]
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from ..engine.checkpoint import writing

# A sample grid shows at most this many images: enough to see the data, cheap to draw (~0.1 s).
MAX_SAMPLES = 50
MAX_SAMPLE_CLASSES = 25


def pick_samples(labels, num_classes: int, per_class: int = 5) -> list[list[int]]:
    """For each class, the indices of its first `per_class` images (fewer if it has fewer)."""
    labels = torch.as_tensor(labels).long()
    return [torch.nonzero(labels == k).flatten()[:per_class].tolist() for k in range(num_classes)]


def most_confidently_wrong(logits, labels, k: int = 16) -> list[int]:
    """Indices of up to `k` wrongly predicted images, the most confident first (highest
    probability given to the predicted class; ties in index order)."""
    logits, labels = torch.as_tensor(logits).float(), torch.as_tensor(labels).long()
    confidence, predicted = logits.softmax(1).max(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    order = torch.sort(confidence[wrong], descending=True, stable=True).indices
    return wrong[order][:k].tolist()


def most_confused(matrix, class_names: list[str], k: int = 10) -> list[tuple[str, str, int]]:
    """The `k` off-diagonal cells of a confusion matrix (rows true, columns predicted) with the
    most images, as (actual, predicted, count), largest first (ties in row, then column order);
    pairs never confused are left out (fastai's `most_confused`)."""
    matrix = np.asarray(matrix)
    pairs = [(int(matrix[i, j]), i, j) for i in range(len(matrix)) for j in range(len(matrix))
             if i != j and matrix[i, j] > 0]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    return [(class_names[i], class_names[j], count) for count, i, j in pairs[:k]]


def as_picture(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) uint8 -> what imshow draws as it is: (H, W) for grey, (H, W, 3) for colour."""
    array = torch.as_tensor(image).cpu().numpy()
    return array.transpose(1, 2, 0) if array.shape[0] == 3 else array[0]


def _show(axis, image) -> None:
    picture = as_picture(image)
    axis.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255,
                interpolation="nearest")


def _save(fig, path) -> None:
    with writing(path):
        fig.savefig(path, dpi=100)
    plt.close(fig)


def draw_samples(images, labels, class_names: list[str], per_class: int = 5, title: str = ""):
    """One row per class (its name on the left), its first images along the row, drawn as one
    picture so 50 images cost one imshow. At most MAX_SAMPLES images and MAX_SAMPLE_CLASSES
    classes (the title says when classes were left out). Returns the figure."""
    shown_classes = min(len(class_names), MAX_SAMPLE_CLASSES)
    per_class = max(1, min(per_class, MAX_SAMPLES // max(1, shown_classes)))
    rows = pick_samples(labels, shown_classes, per_class)
    images = torch.as_tensor(images)
    height, width = images.shape[2:]
    gap = max(1, height // 16)
    mosaic = np.full((shown_classes * (height + gap) - gap, per_class * (width + gap) - gap,
                      3), 255, dtype=np.uint8)  # white between the images
    for row, indices in enumerate(rows):
        for column, index in enumerate(indices):
            picture = as_picture(images[index])
            if picture.ndim == 2:
                picture = np.repeat(picture[:, :, None], 3, axis=2)
            top, left = row * (height + gap), column * (width + gap)
            mosaic[top:top + height, left:left + width] = picture
    cell = max(0.45, min(1.2, 6.0 / max(shown_classes, per_class)))  # inches per image
    names_width = 0.09 * max(len(n) for n in class_names[:shown_classes]) + 0.4
    fig, axis = plt.subplots(figsize=(per_class * cell + names_width + 0.4,
                                      shown_classes * cell + 0.9))
    axis.imshow(mosaic, interpolation="nearest")
    axis.set_yticks([r * (height + gap) + (height - 1) / 2 for r in range(shown_classes)],
                    class_names[:shown_classes])
    axis.set_xticks([])
    axis.tick_params(length=0)
    for side in axis.spines.values():
        side.set_visible(False)
    more = len(class_names) - shown_classes
    heading = title or "training images"
    heading += f"\n(first {shown_classes} of {len(class_names)} classes)" if more > 0 else ""
    axis.set_title(heading)
    fig.tight_layout()
    return fig


def plot_samples(images_uint8, labels, class_names: list[str], path: str | Path,
                 per_class: int = 5, title: str = "") -> None:
    """`draw_samples` saved as a PNG (samples.png in a run directory)."""
    _save(draw_samples(images_uint8, labels, class_names, per_class, title), path)


def draw_top_losses(images, logits, labels, class_names: list[str], k: int = 16,
                    title: str = ""):
    """The `k` most confidently wrong images, each captioned with its true class, the
    predicted class and the probability given to it. Returns (figure, the indices shown)."""
    chosen = most_confidently_wrong(logits, labels, k)
    probabilities = torch.as_tensor(logits).float().softmax(1)
    heading = title or "most confidently wrong"
    if not chosen:
        fig, axis = plt.subplots(figsize=(7, 2))
        axis.axis("off")
        axis.text(0.5, 0.5, f"no wrong predictions: all {len(labels)} images right",
                  ha="center", va="center", fontsize=12)
        axis.set_title(heading)
        return fig, chosen
    columns = min(4, len(chosen))
    rows = -(-len(chosen) // columns)
    # at least 8 inches wide, so that the title fits above one or two images
    width, height = max(8.0, 2.6 * columns), 2.8 * rows + 1.0
    fig, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    for axis in axes.flat:  # no ticks: also spares matplotlib laying them out (2x faster)
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_frame_on(False)
    for axis, index in zip(axes.flat, chosen):
        predicted = int(probabilities[index].argmax())
        _show(axis, torch.as_tensor(images)[index])
        axis.set_title(f"true: {class_names[int(labels[index])]}\n"
                       f"predicted: {class_names[predicted]} "
                       f"({float(probabilities[index, predicted]):.2f})", fontsize=10)
    fig.suptitle(heading, y=1 - 0.1 / height, va="top", wrap=True)
    # A fixed layout (inches turned into fractions): tight_layout took half the drawing time.
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.1 / height, top=1 - 0.95 / height,
                        hspace=0.3, wspace=0.15)
    return fig, chosen


def plot_top_losses(images_uint8, logits, labels, class_names: list[str], path: str | Path,
                    k: int = 16, title: str = "") -> list[int]:
    """`draw_top_losses` saved as a PNG (errors-<split>.png); returns the indices shown."""
    fig, chosen = draw_top_losses(images_uint8, logits, labels, class_names, k, title)
    _save(fig, path)
    return chosen
