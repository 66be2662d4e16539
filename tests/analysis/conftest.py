import pytest

from fake_data import make_image_folder, tiny_mlp_args
from trainlab.cli.main import main


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """Two finished one-epoch MLP runs on 16x16 RGB images: `dev` (with a dev split, batch 8)
    and `no-dev` (--dev-fraction 0, batch 16). About a second each on 2 cores."""
    root = tmp_path_factory.mktemp("analysis-runs")
    data = make_image_folder(root / "pets", per_class=12)
    runs = {"dev": root / "dev", "no-dev": root / "no-dev"}
    for name, extra in (("dev", tiny_mlp_args(8)), ("no-dev", [*tiny_mlp_args(16), "--dev-fraction", "0"])):
        assert main(["train", "--data", f"folder:{data}", "--out", str(runs[name]), *extra]) == 0
    return runs
