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


@pytest.fixture(autouse=True, scope="session")
def _precision_cache(tmp_path_factory):
    # --precision auto caches its CPU measurements; the tests share one cache of their own (so
    # two runs compared within a test choose alike) and never touch the user's ~/.cache.
    import os
    os.environ["TRAINLAB_CACHE_DIR"] = str(tmp_path_factory.mktemp("trainlab-cache"))
    yield
