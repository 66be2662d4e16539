"""`residual`: ResNet-18 with and without residual connections (seed 001, 5.4.2-5.4.3), and a
deeper plain stack against the same stack with residuals, where residuals start to matter."""
from __future__ import annotations

from ._base import Experiment, SeedFigure, Setting, register_experiment

# Seed 001: plain SGD, batch 64, 5 epochs on an MNIST subset (its log shows 160 steps of 64 in
# 5 epochs: about 2,000 training images); lr 0.005 without residuals, 0.01 with.
SEED_SGD = dict(optimizer="sgd", momentum=0.0, weight_decay=0.0, schedule="none")
# The deep pair trains alike (momentum SGD, as He et al. 2016 train their CIFAR stacks), so
# the residual connections are the only difference.
DEEP = dict(model="resnet-stack", optimizer="sgd", lr=0.05, momentum=0.9)
DEEP_OPTIONS = {"depth": 32, "width": 8}

register_experiment(Experiment(
    name="residual",
    title="ResNet-18 with and without residual connections; a deeper plain stack against the "
          "same with residuals",
    settings=(
        Setting("ResNet-18 without residual",
                dict(SEED_SGD, model="resnet18", model_options={"use_residual": False}, lr=0.005),
                SeedFigure("5.4.2.2, without residual connections: \"[Test] accuracy/loss: "
                           "0.9700/0.1532\"; \"网络层级加深后,训练效果不升反降\" (against LeNet-5, "
                           "the deeper network trained worse, not better)", 0.9700)),
        Setting("ResNet-18 with residual",
                dict(SEED_SGD, model="resnet18", model_options={"use_residual": True}, lr=0.01),
                SeedFigure("5.4.3.2, with residual connections: \"[Test] accuracy/loss: "
                           "0.9550/0.1480\"; \"添加了残差连接后,模型收敛曲线更平滑\" (with "
                           "residual connections the convergence curves are smoother)", 0.9550)),
        Setting("32-layer plain stack",
                dict(SEED_SGD, **DEEP, model_options={**DEEP_OPTIONS, "use_residual": False})),
        Setting("32-layer residual stack",
                dict(SEED_SGD, **DEEP, model_options={**DEEP_OPTIONS, "use_residual": True})),
    ),
    # About the seed's 2,000 images. On the idle 2-core CPU the whole default took 101 s with
    # 1,000 images (and 3 epochs for the deep pair), which left the deep stacks near chance.
    common=dict(SEED_SGD, epochs=5, batch_size=64, limit_train=2000, limit_dev=500,
                limit_test=2000, eval_batch_size=500),
    quick=dict(epochs=1, limit_train=128, limit_dev=64, limit_test=128),
    seed_source="Seed 001 (nndl 5.4.2-5.4.3), sections 5.4.2.2 and 5.4.3.2",
    seed_setting="an MNIST subset (160 steps of 64 images in 5 epochs: about 2,000 training "
                 "images), 5 epochs, batch 64, SGD lr 0.005 without and 0.01 with residual "
                 "connections, one run each; the seed has no deeper stack",
    seed_data="MNIST", seed_epochs="5",
    notes=(
        "ResNet-18 is only 18 layers with BatchNorm: with or without shortcuts it trains, so the "
        "seed's gap (0.9700 against 0.9550, one run each) is within what seeds alone move.",
        "The 32-layer stacks (He et al. 2016's CIFAR ResNet-32 layout, 8-32 channels) show the "
        "chapter's point: without shortcuts the deeper stack learns more slowly (lower dev "
        "accuracy in the first epochs, higher training loss); with them it trains like a "
        "shallow one.",
    ),
))
