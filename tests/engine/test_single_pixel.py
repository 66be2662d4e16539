"""The single-pixel convolution path computes what nn.Conv2d computes, and only takes over
where the output really is one pixel."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from trainlab.engine import Runner
from trainlab.engine.single_pixel import SinglePixelConv2d, use_single_pixel_path
from trainlab.models import create_model

# (in, out, kernel, stride, padding, input height, width): every one has a one-pixel output
SINGLE_PIXEL = [
    (8, 6, 3, 1, 1, 1, 1),  # ResNet-18's last stage on 28x28: one real pixel, eight zeros
    (8, 6, 3, 2, 1, 2, 2),  # its stride-2 entry: four real pixels
    (8, 6, 1, 2, 0, 2, 2),  # its 1x1 stride-2 shortcut: one pixel of four
    (4, 5, 3, 1, 0, 3, 3),  # no padding: the whole window is inside the image
    (3, 2, 5, 1, 2, 1, 1),
    (3, 2, (3, 1), 1, (1, 0), 1, 1),  # rectangular kernel
]


def pair(conv_args, seed=0):
    torch.manual_seed(seed)
    c_in, c_out, kernel, stride, padding = conv_args
    plain = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding)
    fast = copy.deepcopy(plain)
    assert use_single_pixel_path(fast) == 1
    return plain, fast


def outputs_and_grads(conv, x):
    x = x.detach().clone().requires_grad_(True)
    out = conv(x)
    (out * torch.arange(out.numel()).reshape(out.shape).sin()).sum().backward()
    return out, x.grad, conv.weight.grad, conv.bias.grad


@pytest.mark.parametrize("spec", SINGLE_PIXEL)
@pytest.mark.parametrize("channels_last", [False, True])
def test_single_pixel_output_equals_the_convolution(spec, channels_last):
    *conv_args, height, width = spec
    plain, fast = pair(conv_args)
    assert fast.single_pixel_window(height, width) is not None  # the path really is taken
    x = torch.randn(4, conv_args[0], height, width)
    if channels_last:  # as the Runner lays out a model and its batches
        x = x.contiguous(memory_format=torch.channels_last)
        plain, fast = (m.to(memory_format=torch.channels_last) for m in (plain, fast))
    for got, want in zip(outputs_and_grads(fast, x), outputs_and_grads(plain, x)):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # Taps that only ever see padding get exactly zero gradient, as in the plain convolution.
    assert torch.equal(fast.weight.grad == 0, plain.weight.grad == 0)


class RecordedCopies(TorchDispatchMode):
    """The shapes of every tensor copied (aten copy_/clone/_to_copy) while it is active."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket in (torch.ops.aten.copy_, torch.ops.aten.clone,
                                   torch.ops.aten._to_copy):
            self.shapes.append(tuple(args[0].shape))
        return func(*args, **(kwargs or {}))


def test_channels_last_weight_gradient_is_made_in_place_not_copied_into_its_layout():
    # ResNet-18's last stage in bf16 channels-last: PyTorch copied each [512, 512, 3, 3] weight
    # gradient into the weight's layout, a fifth of the training step (issue 12).
    conv = nn.Conv2d(64, 64, 3, padding=1, bias=False).to(memory_format=torch.channels_last)
    use_single_pixel_path(conv)
    x = torch.randn(8, 64, 1, 1).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", torch.bfloat16):
        loss = conv(x).float().square().sum()
    with RecordedCopies() as copies:
        loss.backward()
    assert tuple(conv.weight.shape) not in copies.shapes, copies.shapes


def test_frozen_weights_no_bias_and_bf16_inputs_get_the_gradients_they_ask_for():
    plain, fast = (m.to(memory_format=torch.channels_last) for m in pair((8, 6, 3, 1, 1)))
    for conv in (plain, fast):
        conv.bias = None
        conv.weight.requires_grad_(False)  # a frozen layer: only the input's gradient
    x = torch.randn(4, 8, 1, 1, dtype=torch.bfloat16, requires_grad=True)
    grads = []
    for conv in (fast, plain):
        x.grad = None
        with torch.autocast("cpu", torch.bfloat16):
            conv(x).float().sum().backward()
        grads.append(x.grad)
    assert fast.weight.grad is None and grads[0].dtype == torch.bfloat16
    torch.testing.assert_close(grads[0].float(), grads[1].float(), rtol=3e-2, atol=3e-2)


def test_single_pixel_under_bf16_autocast_matches_within_bf16_rounding():
    plain, fast = pair((16, 8, 3, 1, 1))
    x = torch.randn(4, 16, 1, 1)
    with torch.autocast("cpu", torch.bfloat16):
        got, want = fast(x), plain(x)
    assert got.dtype == want.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), want.float(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("spec", SINGLE_PIXEL[:3])
def test_single_pixel_gradients_under_bf16_autocast_match_within_bf16_rounding(spec):
    *conv_args, height, width = spec
    plain, fast = (m.to(memory_format=torch.channels_last) for m in pair(conv_args))
    x = torch.randn(8, conv_args[0], height, width).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", torch.bfloat16):
        got, want = outputs_and_grads(fast, x), outputs_and_grads(plain, x)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        torch.testing.assert_close(g.float(), w.float(), rtol=3e-2, atol=3e-2)
    assert torch.equal(fast.weight.grad == 0, plain.weight.grad == 0)


@pytest.mark.parametrize("spec", [(8, 6, 3, 1, 1, 4, 4), (8, 6, 3, 2, 1, 3, 3),
                                  (8, 6, 2, 1, 0, 3, 3)])
def test_other_shapes_run_the_ordinary_convolution(spec):
    *conv_args, height, width = spec
    plain, fast = pair(conv_args)
    assert fast.single_pixel_window(height, width) is None
    x = torch.randn(2, conv_args[0], height, width)
    assert torch.equal(fast(x), plain(x))


def test_grouped_dilated_and_same_padding_convolutions_are_left_to_pytorch():
    # each has a one-pixel output on its input, but is not a plain zero-padded convolution
    for conv, size in ((nn.Conv2d(4, 4, 3, padding=1, groups=2), 1),
                       (nn.Conv2d(4, 4, 3, padding=2, dilation=2), 1),
                       (nn.Conv2d(4, 4, 3, padding="same"), 1),
                       (nn.Conv2d(4, 4, 3, stride=3, padding=1, padding_mode="reflect"), 2)):
        use_single_pixel_path(conv)
        assert conv.single_pixel_window(size, size) is None
        x = torch.randn(2, 4, size, size)
        assert torch.equal(conv(x), conv._conv_forward(x, conv.weight, conv.bias))


def test_switching_keeps_parameters_state_dict_and_subclasses_alone():
    class MyConv(nn.Conv2d):  # a user's own subclass may override forward: left alone
        pass

    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), MyConv(4, 4, 1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    params = list(model.parameters())
    assert use_single_pixel_path(model) == 1
    assert isinstance(model[0], SinglePixelConv2d) and type(model[2]) is MyConv
    assert list(model.parameters()) == params
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


def test_runner_on_cpu_trains_resnet18_as_the_plain_model_does():
    torch.manual_seed(0)
    plain = create_model("resnet18", in_channels=1, num_classes=10, input_size=(28, 28))
    model = copy.deepcopy(plain)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy,
                    device="cpu", precision="fp32", progress=False)
    convs = [m for m in runner.model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(type(m) is SinglePixelConv2d for m in convs)
    # in channels-last too (bf16's usual layout)
    other = copy.deepcopy(plain)
    Runner(other, torch.optim.SGD(other.parameters(), lr=0.1), F.cross_entropy, device="cpu",
           precision="bf16", channels_last=True, progress=False)
    convs = [m for m in other.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(type(m) is SinglePixelConv2d for m in convs)
    # One SGD step each way: ResNet-18's 1x1 last stage takes the new path, the rest do not.
    for net in (plain, model):
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
        F.cross_entropy(net(x), y).backward()
        optimizer.step()
    for (name, want), got in zip(plain.state_dict().items(), model.state_dict().values()):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, msg=name)


def test_unbatched_empty_and_non_cpu_inputs_take_the_ordinary_convolution(monkeypatch):
    plain, fast = pair((4, 5, 3, 1, 1))
    asked = []
    monkeypatch.setattr(SinglePixelConv2d, "single_pixel_window",
                        lambda self, h, w: asked.append((h, w)))
    for x in (torch.randn(4, 1, 1), torch.randn(0, 4, 1, 1)):
        assert torch.equal(fast(x), plain(x))
    meta_conv = copy.deepcopy(fast).to("meta")  # a device other than the CPU
    assert meta_conv(torch.randn(2, 4, 1, 1, device="meta")).shape == (2, 5, 1, 1)
    assert asked == []  # none of them even looked for a single-pixel window
    fast(torch.randn(2, 4, 1, 1))
    assert asked == [(1, 1)]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_plain_convolutions_come_back_for_torchscript():
    from trainlab.engine.single_pixel import use_plain_convolutions

    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    use_single_pixel_path(model)
    assert use_plain_convolutions(model) == 2
    assert all(type(m) is nn.Conv2d for m in model if isinstance(m, nn.Conv2d))
    scripted = torch.jit.script(model)
    x = torch.randn(2, 1, 5, 5)
    assert torch.equal(scripted(x), model(x))


def test_single_pixel_path_compiles_in_one_graph_with_the_same_gradients():
    # --compile on a CPU traces InImageTaps (ResNet-18's last stage); fullgraph: no break
    plain, fast = (m.to(memory_format=torch.channels_last) for m in pair((8, 6, 3, 1, 1)))
    x = torch.randn(4, 8, 1, 1).contiguous(memory_format=torch.channels_last)
    torch._dynamo.reset()
    compiled = torch.compile(fast, fullgraph=True, backend="aot_eager")
    for got, want in zip(outputs_and_grads(compiled, x), outputs_and_grads(plain, x)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    torch._dynamo.reset()
