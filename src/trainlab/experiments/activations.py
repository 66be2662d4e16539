"""`activations`: seed 003's MLP (784-512-256-128-64-10) with ReLU against Sigmoid."""
from __future__ import annotations

from ._base import Experiment, SeedFigure, Setting, register_experiment

register_experiment(Experiment(
    name="activations",
    title="ReLU against Sigmoid in seed 003's MLP",
    settings=(
        Setting("ReLU", dict(model_options={"activation": "relu"}),
                SeedFigure("\"ReLU函数能让Loss在20代收敛到0,准确率达到98.33%\" (20 epochs)",
                           0.9833)),
        Setting("Sigmoid", dict(model_options={"activation": "sigmoid"}),
                SeedFigure("\"Sigmoid函数则500个epoch都不能完全收敛,准确率97.14%\" (500 "
                           "epochs)", 0.9714)),
    ),
    # Seed 003: batch 64, SGD lr 0.01 momentum 0.5.
    common=dict(model="mlp", epochs=5, batch_size=64, optimizer="sgd", lr=0.01, momentum=0.5,
                weight_decay=0.0, schedule="none", limit_train=20000, limit_dev=1000),
    quick=dict(epochs=1, limit_train=512, limit_dev=128, limit_test=256),
    seed_source="Seed 003 (PyTorch tutorial), the MNIST MLP after the Sigmoid/ReLU remark",
    seed_setting="MNIST, batch 64, SGD lr 0.01 momentum 0.5; ReLU for 20 epochs, Sigmoid for "
                 "500, one run each",
    seed_data="MNIST", seed_epochs="20 (ReLU) and 500 (Sigmoid)",
    notes=(
        "Sigmoid's gradient is at most 0.25 and shrinks through four hidden layers, so with the "
        "same SGD settings the Sigmoid network barely leaves chance in the first epochs while "
        "ReLU learns at once: the seed's 'convergence much slower'.",
    ),
))
