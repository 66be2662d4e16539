"""Sample grids, the most confidently wrong images and the most confused pairs: the selections
exactly, the pictures as readable PNGs."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from trainlab.analysis import (
    draw_samples,
    draw_top_losses,
    most_confidently_wrong,
    most_confused,
    pick_samples,
    plot_samples,
    plot_top_losses,
)


def assert_png(path, min_width=200, min_height=100):
    """A PNG of at least this size that is not one flat colour."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_width and image.height >= min_height
        low, high = image.convert("L").getextrema()
        assert high - low > 100


def test_most_confused_lists_off_diagonal_pairs_largest_first():
    matrix = np.array([[5, 2, 0],
                       [3, 4, 3],
                       [0, 1, 9]])
    names = ["cat", "dog", "fox"]
    assert most_confused(matrix, names, k=10) == [
        ("dog", "cat", 3), ("dog", "fox", 3), ("cat", "dog", 2), ("fox", "dog", 1)]
    assert most_confused(torch.tensor(matrix), names, k=2) == [("dog", "cat", 3),
                                                               ("dog", "fox", 3)]
    assert most_confused(np.diag([4, 5, 6]), names, k=5) == []  # nothing confused


def test_most_confidently_wrong_picks_wrong_images_most_confident_first():
    logits = torch.tensor([[5.0, 0, 0],   # 0: right
                           [0, 3, 0],     # 1: wrong (true 0), confident
                           [0, 0, 1],     # 2: wrong (true 1), hesitant
                           [0, 6, 0],     # 3: wrong (true 2), the most confident
                           [0, 2, 0],     # 4: right
                           [0, 3, 0]])    # 5: wrong (true 0), ties with 1
    labels = torch.tensor([0, 0, 1, 2, 1, 0])
    assert most_confidently_wrong(logits, labels, k=10) == [3, 1, 5, 2]
    assert most_confidently_wrong(logits, labels, k=2) == [3, 1]
    assert most_confidently_wrong(logits[[0, 4]], labels[[0, 4]]) == []


def test_pick_samples_takes_the_first_images_of_each_class():
    labels = torch.tensor([2, 0, 2, 1, 0, 2, 2])
    assert pick_samples(labels, 4, per_class=2) == [[1, 4], [3], [0, 2], []]


def class_images(n, channels, size=10, classes=3):
    """Image i is filled with the value 20 * i mod 250 (+ 1 in the green channel), label
    i % classes."""
    images = torch.zeros(n, channels, size, size, dtype=torch.uint8)
    for i in range(n):
        images[i] = 20 * i % 250
        if channels == 3:
            images[i, 1] += 1
    return images, torch.arange(n) % classes


@pytest.mark.parametrize("channels", [1, 3])
def test_sample_grid_shows_real_pixels_one_row_per_class(tmp_path, channels):
    images, labels = class_images(12, channels)
    names = ["cat", "dog", "fox"]
    fig = draw_samples(images, labels, names, per_class=3, title="run-7: training images")
    axis = fig.axes[0]
    assert [t.get_text() for t in axis.get_yticklabels()] == names
    assert axis.get_title() == "run-7: training images"
    mosaic = np.asarray(axis.images[0].get_array())
    assert mosaic.shape == (3 * 10 + 2 * 1, 3 * 10 + 2 * 1, 3)  # 3 x 3 images, 1-pixel gaps
    # row 1 (dog), column 2: dog's third image, index 7, un-normalised, in its own colours
    cell = mosaic[11:21, 22:32]
    expected = [140, 141, 140] if channels == 3 else [140, 140, 140]
    assert (cell == np.array(expected, dtype=np.uint8)).all()
    plt.close(fig)
    plot_samples(images, labels, names, tmp_path / "samples.png")
    assert_png(tmp_path / "samples.png", min_width=150, min_height=150)


def test_sample_grid_stays_small_with_many_classes():
    images, labels = class_images(120, 1, size=4, classes=30)
    names = [f"class{k}" for k in range(30)]
    fig = draw_samples(images, labels, names, per_class=5)
    axis = fig.axes[0]
    assert len(axis.get_yticklabels()) == 25
    assert "first 25 of 30 classes" in axis.get_title()
    columns = (axis.images[0].get_array().shape[1] + 1) // 5  # 4-pixel images, 1-pixel gaps
    assert columns == 2  # 25 classes x 2 images: at most 50
    plt.close(fig)


def test_error_grid_captions_true_predicted_and_probability(tmp_path):
    images, _ = class_images(6, 3)
    logits = torch.tensor([[5.0, 0, 0], [0, 3, 0], [0, 0, 1], [0, 4, 0], [0, 2, 0], [0, 3, 0]])
    labels = torch.tensor([0, 0, 1, 2, 1, 0])
    names = ["cat", "dog", "fox"]
    fig, shown = draw_top_losses(images, logits, labels, names, k=3, title="run-7: test")
    assert shown == [3, 1, 5]
    titles = [axis.get_title() for axis in fig.axes if axis.get_title()]
    assert titles == ["true: fox\npredicted: dog (0.96)", "true: cat\npredicted: dog (0.91)",
                      "true: cat\npredicted: dog (0.91)"]
    assert fig._suptitle.get_text() == "run-7: test"
    plt.close(fig)
    assert plot_top_losses(images, logits, labels, names, tmp_path / "errors.png") == [3, 1, 5, 2]
    assert_png(tmp_path / "errors.png")


def test_error_grid_without_errors_says_so(tmp_path):
    images, _ = class_images(2, 1)
    logits, labels = torch.tensor([[3.0, 0], [0, 3.0]]), torch.tensor([0, 1])
    fig, shown = draw_top_losses(images, logits, labels, ["a", "b"])
    assert shown == []
    assert fig.axes[0].texts[0].get_text() == "no wrong predictions: all 2 images right"
    plt.close(fig)
    plot_top_losses(images, logits, labels, ["a", "b"], tmp_path / "errors.png")
    assert_png(tmp_path / "errors.png", min_width=300, min_height=100)
