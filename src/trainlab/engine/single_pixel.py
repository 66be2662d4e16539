"""Convolutions whose output is a single pixel, computed without the padding's zeros.

ResNet-18 with its ImageNet stem shrinks a 28x28 Fashion-MNIST image to 1x1 in its last stage,
where each 3x3 convolution (padding 1) looks at one real pixel and eight padding zeros: a plain
convolution does nine multiplications for every one that counts. On a 2-core CPU those convolutions
took a quarter of a training step (torch.profiler, issue 12). When a convolution's output is one
pixel it is a matrix multiplication over the input pixels its window covers, so that is how
`SinglePixelConv2d` computes it: the same weights and the same result (up to float rounding
order); the gradient of the taps that only ever saw padding is exactly zero, as before. Any other
shape runs the ordinary convolution.

The Runner applies this on the CPU (`use_single_pixel_path`), in place, in either layout: the
parameters and state dict stay those of `nn.Conv2d`, so checkpoints and exports hold the
course's model, and `create_model` still builds plain convolutions. `use_plain_convolutions`
switches a model back (before `torch.jit.script`, which cannot compile this class). On a GPU
it has not been measured, so inputs on any other device than the CPU, unbatched inputs and empty
batches run the ordinary convolution.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


class SinglePixelConv2d(nn.Conv2d):
    """An `nn.Conv2d` that multiplies only the in-image taps when its output is one pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = None
        if x.device.type == "cpu" and x.dim() == 4 and x.shape[0] > 0:
            window = self.single_pixel_window(x.shape[-2], x.shape[-1])
        if self.training and torch.is_grad_enabled() and not is_compiling():
            self.__dict__["training_window"] = window  # for engine/tap_trimming.py
        trained = self.__dict__.get("trained_taps")  # (window, the optimizer's taps parameter)
        if trained is not None and trained[0] != window and "bring_taps_up_to_date" in self.__dict__:
            self.__dict__["bring_taps_up_to_date"]()  # their weight decay: other taps are read
        if window is None:
            return super().forward(x)
        (top, bottom), (left, right) = window
        taps = self.in_image_taps(window)
        pixels = x[:, :, top:bottom, left:right].reshape(x.shape[0], -1)
        if trained is not None and trained[0] == window and self.training:
            matrix = trained[1]
            self.__dict__["catch_write"]()  # weights loaded since the last step reach the taps
            out = F.linear(pixels, matrix.reshape(matrix.shape[0], -1), self.bias)
        elif is_channels_last(self.weight):
            out = InImageTaps.apply(pixels, self.weight, self.bias, taps)
        else:  # plain autograd: its gradient already has the weight's (default) layout
            weight = self.weight[:, :, taps[0], taps[1]]
            # contiguous, as the trimmed taps are: a strided matrix rounds differently
            out = F.linear(pixels, weight.reshape(weight.shape[0], -1).contiguous(), self.bias)
        return out[:, :, None, None]

    def __getstate__(self):
        """Copies (copy.deepcopy, pickle) leave out what engine/tap_trimming.py keeps during a
        `train()`: the copy is a plain convolution of the same weights."""
        if "bring_taps_up_to_date" in self.__dict__:
            self.__dict__["bring_taps_up_to_date"]()  # the padding-only taps' weight decay
        state = super().__getstate__()
        for key in ("training_window", "trained_taps", "trained_taps_slices", "kernel_version",
                    "bring_taps_up_to_date", "catch_write"):
            state.pop(key, None)
        for key in ("_state_dict_pre_hooks", "_state_dict_hooks"):  # (closures: not picklable)
            hooks = state.get(key) or {}
            if any(getattr(hook, "taps_trimming", False) for hook in hooks.values()):
                state[key] = type(hooks)((k, hook) for k, hook in hooks.items()
                                         if not getattr(hook, "taps_trimming", False))
        return state

    def in_image_taps(self, window) -> tuple[slice, slice]:
        """The kernel rows and columns that `single_pixel_window`'s pixels meet."""
        (top, bottom), (left, right) = window
        pad_h, pad_w = self.padding
        return slice(pad_h + top, pad_h + bottom), slice(pad_w + left, pad_w + right)

    def single_pixel_window(self, height: int, width: int):
        """((top, bottom), (left, right)): the input rows and columns the one output pixel sees,
        or None when the output is not one pixel or the layer is not a plain convolution."""
        if self.groups != 1 or self.dilation != (1, 1) or self.padding_mode != "zeros" \
                or isinstance(self.padding, str):
            return None
        spans = []
        for size, kernel, stride, pad in zip((height, width), self.kernel_size, self.stride,
                                             self.padding):
            if (size + 2 * pad - kernel) // stride + 1 != 1:
                return None
            first, last = max(0, -pad), min(size, kernel - pad)  # in-image rows of the window
            if last <= first:
                return None
            spans.append((first, last))
        return tuple(spans)


def is_compiling() -> bool:
    check = getattr(torch.compiler, "is_compiling", None)  # torch >= 2.3
    return bool(check and check())


def is_channels_last(weight: torch.Tensor) -> bool:
    return not weight.is_contiguous() and weight.is_contiguous(memory_format=torch.channels_last)


class InImageTaps(torch.autograd.Function):
    """F.linear(pixels, weight[:, :, taps] as a matrix, bias), with the weight's gradient made
    directly in the weight's own memory layout. Slicing the weight in plain autograd gives a
    gradient in the default layout, which PyTorch then copies into a channels-last weight's
    layout: for ResNet-18's [512, 512, 3, 3] weights that copy took a fifth of a bf16
    channels-last training step on the 2-core AMD EPYC (torch.profiler, issue 12). The forward
    runs under the ambient autocast as F.linear does, and the backward's products run in the
    forward's precision (bf16 under autocast, as autocast's own backward would; in fp32 a planar
    step measured 14% slower). Used for channels-last weights only: for planar ones plain
    autograd's gradient already has their layout, and this function measured 7% slower there."""

    @staticmethod
    def forward(ctx, pixels, weight, bias, taps):
        rows, cols = taps
        matrix = weight[:, :, rows, cols].reshape(weight.shape[0], -1).contiguous()
        out = F.linear(pixels, matrix, bias)
        # the operands as the forward multiplied them (autocast's casts are not kept for us)
        ctx.save_for_backward(pixels.to(out.dtype), matrix.to(out.dtype))
        ctx.weight_meta = (weight.shape, weight.stride(), weight.dtype, weight.device)
        ctx.taps, ctx.pixels_dtype = taps, pixels.dtype
        ctx.bias_dtype = None if bias is None else bias.dtype
        return out

    @staticmethod
    @once_differentiable  # no gradient of gradients (nothing in trainlab asks for one)
    def backward(ctx, grad_out):
        pixels, matrix = ctx.saved_tensors
        rows, cols = ctx.taps
        grad_out = grad_out.to(matrix.dtype)
        grad_pixels = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_pixels = (grad_out @ matrix).to(ctx.pixels_dtype)
        if ctx.needs_input_grad[1]:
            shape, stride, dtype, device = ctx.weight_meta
            # zeros in the weight's own layout, the in-image taps written in (cast to its dtype)
            grad_weight = torch.empty_strided(shape, stride, dtype=dtype, device=device).zero_()
            in_image = grad_weight[:, :, rows, cols]
            in_image.copy_((grad_out.t() @ pixels).view(in_image.shape))
        if ctx.bias_dtype is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum(0, dtype=ctx.bias_dtype)
        return grad_pixels, grad_weight, grad_bias, None


def use_single_pixel_path(model: nn.Module) -> int:
    """Let every plain `nn.Conv2d` in `model` take the single-pixel path, in place: the modules
    keep their parameters, buffers and hooks (only their class changes). Returns how many."""
    return switch_class(model, nn.Conv2d, SinglePixelConv2d)


def use_plain_convolutions(model: nn.Module) -> int:
    """Undo `use_single_pixel_path`, in place. Returns how many modules went back."""
    return switch_class(model, SinglePixelConv2d, nn.Conv2d)


def switch_class(model: nn.Module, old: type, new: type) -> int:
    """Give every module of exactly class `old` (not its subclasses, which may have their own
    forward) the class `new`; returns how many."""
    modules = [module for module in model.modules() if type(module) is old]
    for module in modules:
        module.__class__ = new
    return len(modules)
