"""trainlab: train, evaluate, compare and use classic neural networks with PyTorch.

The course API (seeds 000/001) works with only the imports changed:

    from trainlab import RunnerV3, Accuracy, Model_ResNet18, plot
"""
__version__ = "0.1.0"

from .analysis import plot
from .data import TensorLoader, create_dataset, list_datasets
from .engine import Accuracy, Runner, RunnerV3
from .models import ResNet, ResNet18, create_model, list_models
from .workflows.bundle import load_bundle

# Seed 001's class name for the same network.
Model_ResNet18 = ResNet18

__all__ = [
    "Runner", "RunnerV3", "Accuracy", "plot", "create_model", "list_models", "create_dataset",
    "list_datasets", "TensorLoader", "ResNet", "ResNet18", "Model_ResNet18", "__version__",
    "load_bundle",
]
