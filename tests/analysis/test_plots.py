"""curves.png and the confusion matrices: what a reader needs is on the figure."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from trainlab.analysis import draw_confusion_matrix, draw_curves, plot_curves


def metrics_rows(epochs: int, steps_per_epoch: int = 10, log_every: int = 3):
    """metrics.csv rows as MetricsWriter writes them (strings), dev accuracy peaking at epoch 2."""
    rows, step = [], 0
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            if step % log_every == 0:
                rows.append({"step": str(step), "epoch": str(epoch), "split": "train_step",
                             "loss": str(2.0 / (step + 1)), "accuracy": "", "lr": "0.1"})
            step += 1
        accuracy = [0.5, 0.9, 0.8, 0.85][epoch % 4]
        rows.append({"step": str(step - 1), "epoch": str(epoch), "split": "dev",
                     "loss": str(1 - accuracy), "accuracy": str(accuracy), "lr": "0.1"})
        rows.append({"step": str(step - 1), "epoch": str(epoch), "split": "train",
                     "loss": str(1.5 / (epoch + 1)), "accuracy": str(accuracy - 0.05),
                     "lr": "0.1"})
    return rows


def tick_texts(fig):
    fig.canvas.draw()
    texts = []
    for axis in fig.axes:
        for label in axis.get_xticklabels() + axis.get_yticklabels():
            texts.append(label.get_text())
    return [t for t in texts if t]


def test_curves_mark_epochs_and_the_best_checkpoint_with_plain_ticks():
    fig = draw_curves(metrics_rows(epochs=4), title="run-7: cnn on digits")
    loss_axis, acc_axis = fig.axes[:2]
    tops = [child for axis in (loss_axis, acc_axis) for child in axis.child_axes]
    assert len(tops) == 2
    assert [t.get_text() for t in tops[0].get_xticklabels()] == ["1", "2", "3", "4"]
    assert list(tops[0].get_xticks()) == [10, 20, 30, 40]  # epoch ends on the step axis
    labels = [line.get_label() for line in acc_axis.get_lines()]
    assert "best checkpoint: step 20, dev accuracy 0.9000" in labels
    texts = tick_texts(fig)
    assert texts and not any("$" in t or "e+" in t or "e-" in t or "\u00d7" in t for t in texts)
    assert fig._suptitle.get_text() == "run-7: cnn on digits"
    plt.close(fig)


def test_a_one_epoch_run_is_still_readable(tmp_path):
    rows = metrics_rows(epochs=1)
    fig = draw_curves(rows)
    loss_axis = fig.axes[0]
    steps_line = next(line for line in loss_axis.get_lines()
                      if line.get_label() == "train (logged steps)")
    assert len(steps_line.get_xdata()) == 4  # a line, not a lone dot
    plt.close(fig)
    only_epoch_rows = [r for r in rows if r["split"] != "train_step"]  # --log-steps 0
    fig = draw_curves(only_epoch_rows)
    left, right = fig.axes[0].get_xlim()
    assert left < 10 < right and right - left >= 10  # the lone points sit inside the axes
    plt.close(fig)
    plot_curves(rows, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_normalised_confusion_matrix_rows_are_shares():
    matrix = np.array([[8, 2], [1, 3]])
    fig = draw_confusion_matrix(matrix, ["cat", "dog"], title="run-7: test", normalise=True)
    axis = fig.axes[0]
    assert sorted(t.get_text() for t in axis.texts) == ["0.20", "0.25", "0.75", "0.80"]
    assert axis.get_title() == "run-7: test"
    plt.close(fig)
    fig = draw_confusion_matrix(matrix, ["cat", "dog"])
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "2", "3", "8"]
    plt.close(fig)


@pytest.mark.parametrize("epochs", [1, 30])
def test_epoch_labels_stay_few(epochs):
    fig = draw_curves(metrics_rows(epochs=epochs))
    top = fig.axes[0].child_axes[0]
    assert 1 <= len(top.get_xticks()) <= 15
    plt.close(fig)
