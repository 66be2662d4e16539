"""Table and sequence models: every one builds, answers in the task's shape, and trains a step;
seed 000's from-scratch RNN computes the course's formula; packed names ignore padding."""
import pytest
import torch

from trainlab.engine import Runner
from trainlab.engine.tasks import loss_function
from trainlab.models import create_model, example_input, get_model_entry, list_models

OTHER_MODELS = [(name, kind) for name in list_models() for kind in get_model_entry(name).inputs
                if kind != "image"]
SIZES = {"features": (5, ()), "series": (1, (7,)), "tokens": (6, (7,))}


@pytest.mark.parametrize("name,kind", OTHER_MODELS)
def test_every_table_and_sequence_model_trains_a_step(name, kind):
    in_channels, size = SIZES[kind]
    model = create_model(name, in_channels=in_channels, num_classes=3, input_size=size)
    x = example_input(kind, in_channels, size, batch=4)
    x = torch.randint(1, in_channels, x.shape) if kind == "tokens" else torch.randn(x.shape)
    out = model(x)
    per_step = kind == "series" or name.startswith("char-")
    assert out.shape == ((4, 7, 3) if per_step else (4, 3)) and torch.isfinite(out).all()
    labels = torch.randint(0, 3, out.shape[:-1])
    loss = loss_function("classification")(out, labels)
    before = [p.detach().clone() for p in model.parameters()]
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_rnn_scratch_is_the_course_formula():
    torch.manual_seed(0)
    model = create_model("rnn-scratch", in_channels=2, num_classes=1, input_size=(4,), hidden=3)
    x = torch.randn(2, 4, 2)
    H, expected = torch.zeros(2, 3), []
    for t in range(4):  # seed 000: H = tanh(X W_xh + H W_hh + b_h); Y = H W_hq + b_q
        H = torch.tanh(x[:, t] @ model.W_xh + H @ model.W_hh + model.b_h)
        expected.append(H @ model.W_hq + model.b_q)
    torch.testing.assert_close(model(x), torch.stack(expected, dim=1))


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_name_rnn_ignores_padding(cell):
    torch.manual_seed(0)
    model = create_model("name-rnn", in_channels=10, num_classes=4, input_size=(6,), cell=cell,
                         hidden=8).eval()
    short = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[3, 4, 5, 0, 0, 0]])
    batch = torch.tensor([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        torch.testing.assert_close(model(short), model(padded))
        torch.testing.assert_close(model(batch)[:1], model(short))
    assert isinstance(model.rnn, {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM,
                                  "rnn": torch.nn.RNN}[cell])
    assert model.rnn.bidirectional and model.rnn.num_layers == 2


def test_clip_grad_norm_bounds_every_step(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    runner = Runner(model, optimizer, loss_function("regression"), clip_grad_norm=1e-3,
                    device="cpu", progress=False, course_log=False)
    x, y = torch.randn(8, 4) * 100, torch.randn(8, 1) * 100  # gradients far above 1e-3
    runner.train([(x, y)], num_epochs=1, log_steps=0, save_path=tmp_path / "model.pt")
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    # plain SGD with lr 1: the step is the clipped gradient, whose norm is exactly the limit
    assert (after - before).norm().item() == pytest.approx(1e-3, rel=1e-4)
