"""The fast path (uint8 tensors + TensorLoader, bf16 where native) computes what the course's
plain path (torchvision dataset + DataLoader + per-sample ToTensor/Normalize, fp32) computes."""
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from fake_data import make_idx_dataset
from trainlab.data import TensorLoader, create_dataset, torchvision_sets
from trainlab.engine import Accuracy, Runner, create_optimizer
from trainlab.models import create_model


def test_same_batches_as_torchvision_fashion_mnist(tmp_path, monkeypatch):
    import torchvision
    from torchvision import transforms

    monkeypatch.setattr(torchvision_sets, "DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    make_idx_dataset(tmp_path / "FashionMNIST" / "raw", n_train=40, n_test=30, compress=False)
    plain = torchvision.datasets.FashionMNIST(
        str(tmp_path), train=False,
        transform=transforms.Compose([transforms.ToTensor(),
                                      transforms.Normalize((0.2860,), (0.3530,))]))
    x_plain, y_plain = next(iter(DataLoader(plain, batch_size=30)))
    data = create_dataset("fashion-mnist", data_dir=tmp_path)
    x_fast, y_fast = next(iter(TensorLoader(data.test, 30, data.mean, data.std)))
    torch.testing.assert_close(x_fast, x_plain)
    assert torch.equal(y_fast, y_plain)
    assert abs(x_fast.mean() - x_plain.mean()) < 1e-6 and abs(x_fast.std() - x_plain.std()) < 1e-6


def train_digits(loader_kind: str, precision: str) -> float:
    data = create_dataset("digits")
    torch.manual_seed(0)
    model = create_model("cnn", in_channels=1, num_classes=10, input_size=data.image_size)
    optimizer = create_optimizer("sgd", model.parameters(), lr=0.02, momentum=0.9)
    runner = Runner(model, optimizer, F.cross_entropy, Accuracy(), device="cpu",
                    precision=precision, progress=False)
    test = TensorLoader(data.test, 500, data.mean, data.std)
    if loader_kind == "plain":  # per-sample float tensors through a DataLoader
        x = next(iter(TensorLoader(data.train, len(data.train), data.mean, data.std)))[0]
        train = DataLoader(TensorDataset(x, data.train.labels), batch_size=32, shuffle=True,
                           generator=torch.Generator().manual_seed(0))
    else:
        train = TensorLoader(data.train, 32, data.mean, data.std, shuffle=True, seed=0)
    runner.train(train, num_epochs=10, log_steps=0, save_path="/dev/null")
    return runner.evaluate(test)[0]


def test_fast_path_reaches_the_plain_paths_accuracy():
    plain = train_digits("plain", "fp32")
    fast = train_digits("fast", "fp32")
    fast_bf16 = train_digits("fast", "bf16")
    assert plain > 0.9
    # Different shuffles, same distribution: within noise of each other (359 test images).
    assert abs(fast - plain) < 0.03 and abs(fast_bf16 - plain) < 0.03
