"""Real built-in data, short runs: learning happens on every new task. The figures these runs
print are the ones README and the issue note quote (`make integration`)."""
import pytest

from trainlab.workflows import build_config, train

pytestmark = pytest.mark.integration


def run(tmp_path, **settings):
    config = build_config(None, log_steps=0, out=str(tmp_path / "run"), optimizer="adam",
                          schedule="none", **settings)
    return train(config, echo=lambda *a: None).results


def test_breast_cancer_network_beats_the_majority_class(tmp_path):
    # seed 004's 8-6-4-2-1 network shape (sigmoid), on scikit-learn's breast-cancer table
    results = run(tmp_path, model="mlp", model_options={"hidden": [6, 4, 2],
                  "activation": "sigmoid"}, data="breast-cancer", epochs=40, batch_size=32,
                  lr=0.01)
    assert results["test_accuracy"] >= 0.93 > 0.7 > results["test_majority_class_accuracy"]


def test_diabetes_regression_explains_variance(tmp_path):
    results = run(tmp_path, model="linear", data="diabetes", epochs=40, batch_size=32, lr=0.01)
    assert results["test_r2"] > 0.3  # predicting the mean scores R^2 = 0


def test_sine_rnn_test_mse(tmp_path):
    results = run(tmp_path, model="rnn", data="sine", epochs=20, batch_size=32, lr=0.02,
                  clip_grad_norm=1.0)
    assert results["test_mse"] < 0.15  # predicting the mean of cos scores about 0.5


def test_names_model_far_above_the_majority_class(tmp_path):
    pytest.importorskip("faker")
    from trainlab.data.names_generator import write_names_file

    write_names_file(tmp_path / "names.csv.gz", per_label=300)
    results = run(tmp_path, model="name-rnn", data=f"names:{tmp_path / 'names.csv.gz'}",
                  epochs=10, batch_size=64, lr=0.005)
    assert results["test_accuracy"] > 0.5 > 0.15 > results["test_majority_class_accuracy"]
