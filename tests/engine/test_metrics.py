import pytest
import torch

from trainlab.engine import Accuracy, accuracy, confusion_matrix, per_class_accuracy


def test_accuracy_topk():
    outputs = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 1, 0])
    top1, top2 = accuracy(outputs, labels, topk=(1, 2))
    assert (top1, top2) == pytest.approx((1 / 3, 2 / 3))


def test_confusion_matrix_and_per_class():
    predicted, labels = torch.tensor([0, 1, 1, 2, 2]), torch.tensor([0, 1, 2, 2, 2])
    matrix = confusion_matrix(predicted, labels, 4)
    assert matrix.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]]
    assert per_class_accuracy(matrix)[:3] == pytest.approx([1.0, 1.0, 2 / 3])
    assert per_class_accuracy(matrix)[3] is None


def test_seed_accuracy_metric_multiclass_and_binary():
    metric = Accuracy(is_logist=True)
    metric.update(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([[0], [0]]))
    assert metric.accumulate() == 0.5
    metric.reset()
    assert metric.accumulate() == 0
    metric.update(torch.tensor([[0.3], [-1.0], [2.0]]), torch.tensor([1, 0, 0]))  # binary logits
    assert metric.accumulate() == 2 / 3
    probabilities = Accuracy(is_logist=False)
    probabilities.update(torch.tensor([[0.3], [0.7]]), torch.tensor([0, 1]))
    assert probabilities.accumulate() == 1.0 and probabilities.name() == "Accuracy"
