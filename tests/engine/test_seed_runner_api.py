"""The course code, with only its imports changed to trainlab, runs and keeps its behaviour.

The bodies below follow seed 001 (5.4.2-5.4.3) and seed 000 line for line, on generated data.
"""
import os
import re

import pytest
import torch
import torch.nn.functional as F
import torch.optim as opt
import torch.utils.data as data
from torch.utils.data import DataLoader, Dataset
from torchvision.io import read_image

from fake_data import class_image, make_csv_dataset
from trainlab import Accuracy, Model_ResNet18, ResNet, Runner, RunnerV3, plot


def digit_like_dataset(n, seed):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=generator)
    images = torch.stack([torch.from_numpy(class_image(int(k), 32)).float() / 255 for k in labels])
    return data.TensorDataset(images.unsqueeze(1), labels)


def test_seed001_runnerv3_experiment(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train_dataset, dev_dataset, test_dataset = (digit_like_dataset(n, s)
                                                for n, s in ((192, 0), (64, 1), (64, 2)))
    # ---- seed 001, 5.4.3.1, imports changed only ----
    torch.manual_seed(100)
    lr = 0.01
    batch_size = 64
    train_loader = data.DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
    dev_loader = data.DataLoader(dev_dataset, batch_size=batch_size)
    test_loader = data.DataLoader(test_dataset, batch_size=batch_size)
    model = Model_ResNet18(in_channels=1, num_classes=10, use_residual=True)
    optimizer = opt.SGD(lr=lr, params=model.parameters())
    loss_fn = F.cross_entropy
    metric = Accuracy(is_logist=True)
    runner = RunnerV3(model, optimizer, loss_fn, metric)
    log_steps = 2
    eval_steps = 2
    runner.train(train_loader, dev_loader, num_epochs=3, log_steps=log_steps,
                 eval_steps=eval_steps, save_path="best_model.pdparams")
    plot(runner, "cnn-loss3.pdf")
    runner.load_model("best_model.pdparams")
    score, loss = runner.evaluate(test_loader)
    print(f"[Test] accuracy/loss: {score:.4f}/{loss:.4f}")
    # ---- end of course code ----
    out = capsys.readouterr().out
    assert re.search(r"^\[Train\] epoch: 0/3, step: 0/9, loss: \d+\.\d{5}$", out, re.M)
    assert re.search(r"^\[Evaluate\] dev score: \d\.\d{5}, dev loss: \d+\.\d{5}$", out, re.M)
    assert re.search(r"^\[Evaluate\] best accuracy performence has been updated: "
                     r"0\.00000 --> \d\.\d{5}$", out, re.M)
    assert "[Train] Training done!" in out and re.search(r"\[Test\] accuracy/loss: ", out)
    assert os.path.getsize("best_model.pdparams") > 40e6 and os.path.getsize("cnn-loss3.pdf") > 0
    # Attributes, with the course's shapes: steps 0..8, evaluations at steps 2, 4, 6 and 8 (last).
    assert [s for s, _ in runner.train_step_losses] == list(range(9))
    assert len(runner.train_epoch_losses) == 3 and isinstance(runner.train_epoch_losses[0], float)
    assert [s for s, _ in runner.dev_losses] == [2, 4, 6, 8]
    assert len(runner.dev_scores) == 5  # 4 during training + the test evaluation, as in the seed
    assert runner.best_score == max(runner.dev_scores[:4])
    assert 0 <= score <= 1 and loss > 0
    logits = runner.predict(next(iter(test_loader))[0])
    assert logits.shape == (64, 10)
    # The best checkpoint reproduces the best dev score.
    assert runner.evaluate(dev_loader)[0] == pytest.approx(runner.best_score)


def test_seed001_residual_ablation_runs():
    model = Model_ResNet18(in_channels=1, num_classes=10, use_residual=False)
    runner = RunnerV3(model, opt.SGD(lr=0.005, params=model.parameters()), F.cross_entropy,
                      Accuracy(is_logist=True))
    loader = data.DataLoader(digit_like_dataset(64, 0), batch_size=32)
    runner.train(loader, loader, num_epochs=1, log_steps=15, eval_steps=1, save_path=os.devnull)
    assert len(runner.dev_scores) == 1 and len(runner.train_step_losses) == 2


def test_seed000_runner_on_cifar10_tiny(tmp_path, capsys, monkeypatch):
    make_csv_dataset(tmp_path / "cifar10_tiny", n=40, integer_labels=True, size=32)
    monkeypatch.chdir(tmp_path)

    # ---- seed 000, In [3] - In [6], imports changed only ----
    def read_csv_labels(fname):
        with open(fname) as f:
            lines = f.readlines()[1:]
        tokens = [line.rstrip().split(",") for line in lines]
        return dict(((name, label) for name, label in tokens))

    class CIFAR10Dataset(Dataset):
        def __init__(self, folder_path, fname):
            self.labels = read_csv_labels(os.path.join(folder_path, fname))
            self.folder_path = os.path.join(folder_path, "train")

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, idx):
            img = read_image(self.folder_path + "/" + str(idx + 1) + ".png")
            label = self.labels[str(idx + 1)]
            return img, torch.tensor(int(label))

    batch_size = 20
    train_data = CIFAR10Dataset("cifar10_tiny", "trainLabels.csv")
    train_iter = DataLoader(train_data, batch_size=batch_size)
    num_classes = 10
    model = ResNet(num_classes)
    loss_fn = F.cross_entropy
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = Runner(model, optimizer, loss_fn, metric=None)
    runner.train(train_iter, num_epochs=2, save_path="chapter_5")
    # ---- end of course code ----
    out = capsys.readouterr().out
    assert re.search(r"loss: \d+\.\d{5}", out) and "[Train] Training done!" in out
    assert len(runner.train_epoch_losses) == 2 and runner.dev_scores == []
    # No dev set: the model at the end of training is saved at save_path, and loads back.
    assert os.path.exists("chapter_5")
    before = runner.predict(read_image("cifar10_tiny/train/1.png").unsqueeze(0))
    runner.load_model("chapter_5")
    torch.testing.assert_close(runner.predict(read_image("cifar10_tiny/train/1.png")[None]), before)


def test_runner_requires_dev_loader_and_metric_for_evaluation():
    model = torch.nn.Linear(4, 2)
    runner = RunnerV3(model, opt.SGD(model.parameters(), lr=0.1), F.cross_entropy, None)
    with pytest.raises(RuntimeError, match="Metric can not be None"):
        runner.train([], None, num_epochs=1, eval_steps=5)
    runner.metric = Accuracy()
    with pytest.raises(RuntimeError, match="dev_loader can not be None"):
        runner.train([], None, num_epochs=1, eval_steps=5)
