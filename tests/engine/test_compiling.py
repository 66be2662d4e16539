"""`--compile`: the warm-up compiles every batch shape training will feed, so nothing compiles
inside the timed epochs, and training then starts from the state it would have had eagerly."""
import pytest
import torch

from fake_data import make_idx_dataset
from trainlab.engine import compiling, runner
from trainlab.engine.checkpoint import unwrap_model
from trainlab.workflows import build_config, train


@pytest.fixture
def strict_after_warm_up(monkeypatch):
    """Any compilation after the warm-up raises (dynamo's error_on_recompile)."""
    warm_ups = []

    def warm_up_then_strict(run, loader):
        model = unwrap_model(run.model)
        weights = {k: v.clone() for k, v in model.state_dict().items()}
        rng, loader_state = torch.get_rng_state(), loader.state_dict()
        seconds = compiling.warm_up(run, loader)
        # ... and it leaves the weights, BatchNorm statistics, generators and loader as they were
        assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
        assert torch.equal(torch.get_rng_state(), rng)
        after = loader.state_dict()
        assert after["position"] == loader_state["position"] == 0
        assert torch.equal(after["generator"], loader_state["generator"])
        warm_ups.append(seconds)
        torch._dynamo.config.error_on_recompile = True
        return seconds

    monkeypatch.setattr(runner, "warm_up", warm_up_then_strict)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(error_on_recompile=False):  # restored afterwards
        yield warm_ups
    torch._dynamo.reset()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_compiles_nothing_after_the_warm_up(tmp_path, strict_after_warm_up, precision):
    # 1-channel images, batches of 16 and a smaller last one (36 training images): the input
    # strides of a size-1 channel axis differed between the warm-up and training before.
    make_idx_dataset(tmp_path / "MNIST" / "raw", n_train=40, n_test=10, size=12)
    config = build_config(None, model="fastcnn", data="mnist", data_dir=str(tmp_path),
                          out=str(tmp_path / "run"), epochs=2, batch_size=16, augment="flip",
                          precision=precision, device="cpu", compile="default", log_steps=0,
                          model_options={"widths": [4, 8, 8]})
    results = train(config, echo=lambda *a, **k: None).results
    assert strict_after_warm_up and strict_after_warm_up[0] > 0
    assert results["compile_seconds"] > 0 and results["steps"] == 2 * 3  # 36 images, batch 16
