import sys
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
sys.path.insert(0, str(Path(__file__).parent))  # tests/fake_data.py


@pytest.fixture(autouse=True)
def _quiet_threads():
    # Keep tests reproducible and light on a 2-core machine.
    torch.manual_seed(0)
    yield
