"""`models`: the MNIST model comparison of seeds 003/004 (MLP, CNN, Inception, a residual-block
network, ResNet-18), with parameters, MACs, training time and accuracy in one table."""
from __future__ import annotations

from ._base import Experiment, SeedFigure, Setting, register_experiment

SEED_004 = "seed 004 (10 epochs): "
register_experiment(Experiment(
    name="models",
    title="MLP, CNN, Inception, residual-block network and ResNet-18 side by side",
    settings=(
        Setting("MLP", dict(model="mlp"),
                SeedFigure(SEED_004 + "\"accuracy on test set: 97 %\"", 0.97)),
        Setting("CNN", dict(model="cnn"),
                SeedFigure("seed 003 (30 epochs): \"MINIST数据集的准确率达到了99.11%\"; "
                           + SEED_004 + "\"accuracy on test set: 98 %\"", 0.9911)),
        Setting("Inception", dict(model="inception"),
                SeedFigure("seed 003: \"正确率是98.9%\"; " + SEED_004
                           + "\"accuracy on test set: 98 %\"", 0.989)),
        Setting("residual-block network", dict(model="resnet-mini"),
                SeedFigure("seed 003: \"可以将正确率提高到99.2%\"; " + SEED_004
                           + "\"accuracy on test set: 98 %\"", 0.992)),
        Setting("ResNet-18", dict(model="resnet18"),
                SeedFigure("seed 001 5.4.3.2 (MNIST subset, 5 epochs): \"[Test] accuracy/loss: "
                           "0.9550/0.1480\"", 0.955)),
    ),
    # Seeds 003/004: batch 64, SGD lr 0.01 momentum 0.5, cross-entropy.
    # 10,000 images for 3 epochs: with 2,000 (81 s for all 15 runs on the idle 2-core CPU) the
    # MLP and CNN stayed at 0.29 and 0.22, far from trained; ResNet-18 takes most of the time.
    common=dict(epochs=3, batch_size=64, optimizer="sgd", lr=0.01, momentum=0.5,
                weight_decay=0.0, schedule="none", limit_train=10000, limit_dev=500,
                limit_test=5000, eval_batch_size=500),
    quick=dict(epochs=1, limit_train=128, limit_dev=64, limit_test=128),
    seed_source="Seed 003 (PyTorch tutorial) and seed 004 (PyTorch深度学习实践), the MNIST "
                "networks; ResNet-18 from seed 001",
    seed_setting="MNIST (60,000 training images), batch 64, SGD lr 0.01 momentum 0.5, 10 "
                 "epochs in seed 004 (30 for seed 003's CNN), one run each",
    seed_data="MNIST", seed_epochs="10-30",
    notes=(
        "Parameters and MACs are not accuracy: the MLP has the most parameters after ResNet-18 "
        "but the fewest MACs; ResNet-18 costs by far the most per image.",
        "On a few thousand images and a few epochs the small CNNs are at least as accurate as "
        "ResNet-18, which needs more data and epochs to pay for its size.",
    ),
))
