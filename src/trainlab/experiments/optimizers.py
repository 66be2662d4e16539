"""`optimizers`: SGD, Rprop, Adamax (seed 004) and Adam on the same model and data."""
from __future__ import annotations

from ._base import Experiment, SeedFigure, Setting, register_experiment

SEED_004 = ("seed 004 compares them only as loss curves of a one-weight linear model (y = 2x, "
            "MSE, 1,000 epochs), no accuracy: ")
register_experiment(Experiment(
    name="optimizers",
    title="SGD, Rprop, Adamax and Adam on the same CNN and data",
    settings=(
        Setting("SGD", dict(optimizer="sgd", lr=0.01, momentum=0.5),
                SeedFigure(SEED_004 + "\"optimizer = torch.optim.SGD(model.parameters(), "
                           "lr=0.01)\"")),
        Setting("Rprop", dict(optimizer="rprop", lr=0.01),
                SeedFigure(SEED_004 + "\"optimizer1 = torch.optim.Rprop(model.parameters(), "
                           "lr=0.01)\"")),
        Setting("Adamax", dict(optimizer="adamax", lr=0.01),
                SeedFigure(SEED_004 + "\"optimizer2 = torch.optim.Adamax(model.parameters(), "
                           "lr=0.01)\"")),
        Setting("Adam", dict(optimizer="adam", lr=0.001),
                SeedFigure("not in the seeds; added as today's usual default (lr 0.001)")),
    ),
    common=dict(model="cnn", epochs=3, batch_size=64, weight_decay=0.0, schedule="none",
                limit_train=10000, limit_dev=1000),
    quick=dict(epochs=1, limit_train=256, limit_dev=64, limit_test=128),
    seed_source="Seed 004 (PyTorch深度学习实践), the linear-model optimizer comparison",
    seed_setting="a one-weight linear model on three points, MSE loss, 1,000 full-batch epochs, "
                 "lr 0.01 for SGD, Rprop and Adamax; loss curves only",
    seed_data="three (x, y) points", seed_epochs="1,000",
    notes=(
        "Rprop uses only the sign of each gradient and was made for full-batch training; on "
        "mini-batches of 64 its steps follow the noise, which is why it trails here although "
        "it converged fastest on the seed's full-batch line fit.",
        "Adamax and Adam adapt each weight's step size and reach a good accuracy in the first "
        "epoch; SGD with momentum 0.5 and lr 0.01 is slower to start.",
    ),
))
