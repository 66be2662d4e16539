"""Model summaries: per layer name, type, output shape, parameters and MACs; totals.

The layers are walked and their multiply-accumulates counted by torchinfo (a maintained counter:
convolutions, linear layers, RNN/GRU/LSTM cells), with the model in eval mode on the CPU. One MAC
is a multiply plus an add; FLOPs are reported as 2 x MACs. torchinfo counts the MACs of every
layer that holds weights: conv and linear layers, and also the (small) per-channel scale and
shift of BatchNorm, but not ReLU or pooling. torchstat (seed 001) also counts BatchNorm and ReLU
in its "Flops" column, so for ResNet-18 on 1x32x32 it shows 35.56 M where this shows 35.44 M MACs.

    >>> summary = summarize_model("resnet18", (1, 32, 32))
    >>> summary.parameters, round(summary.macs_per_input / 1e6, 1)
    (11175434, 35.4)
    >>> print(summary)          # the table; summary.to_dict() for JSON

Tables and sequences: `input_shape` is (features,) for a table row, (features, steps) for a
series and (alphabet, steps) for symbols, i.e. `(in_channels, *input_size)` as for images, and
the zero input is made as the model reads it (`models.example_input`). A recurrent or per-step
layer's MACs are its parameters times the times it runs (`corrected_macs`: torchinfo counts a
linear layer on (B, T, F) once per row, a cell by its hidden size, a packed sequence by its
width, so those are counted here). A model
written without layers (`rnn-scratch`'s matrix products) has no leaf layer torchinfo can count;
its MACs come from PyTorch's FlopCounterMode (products only).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..models import create_model, example_input, get_model_entry

FLOPS_PER_MAC = 2


@dataclass
class LayerSummary:
    """One leaf layer (a module with no children) for the whole batch."""
    name: str
    type: str
    output_shape: list[int]
    parameters: int
    macs: int


@dataclass
class Summary:
    """What `summarize` returns; `str(summary)` is the table, `to_dict()` the same as data."""
    input_shape: list[int]  # one input, without the batch dimension, e.g. [1, 32, 32]
    batch: int
    layers: list[LayerSummary] = field(default_factory=list)
    trainable_parameters: int = 0
    frozen_parameters: int = 0
    macs_per_input: int = 0
    parameter_bytes: int = 0
    activation_bytes: int = 0  # every leaf layer's output for the batch
    model: str = ""

    @property
    def parameters(self) -> int:
        return self.trainable_parameters + self.frozen_parameters

    @property
    def macs(self) -> int:
        """For the whole batch."""
        return self.macs_per_input * self.batch

    @property
    def flops_per_input(self) -> int:
        return FLOPS_PER_MAC * self.macs_per_input

    @property
    def flops(self) -> int:
        return FLOPS_PER_MAC * self.macs

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(parameters=self.parameters, macs=self.macs,
                    flops_per_input=self.flops_per_input, flops=self.flops)
        return data

    def table(self) -> str:
        header = ("layer", "type", "output shape", "parameters", "MACs")
        rows = [(layer.name, layer.type, "x".join(map(str, layer.output_shape)),
                 f"{layer.parameters:,}", f"{layer.macs:,}") for layer in self.layers]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        def line(row):
            return "  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
        rule = "-" * len(line(header))
        shape = "x".join(map(str, self.input_shape))
        title = f"{self.model or 'model'}: input {shape}, batch {self.batch}"
        totals = [
            f"parameters: {self.parameters:,} (trainable {self.trainable_parameters:,}, "
            f"frozen {self.frozen_parameters:,})",
            f"MACs: {self.macs_per_input:,} per input ({self.macs_per_input / 1e6:.2f} M), "
            f"{self.macs:,} for the batch of {self.batch}",
            f"FLOPs (2 x MACs): {self.flops_per_input:,} per input, {self.flops:,} for the batch",
            f"memory: parameters {megabytes(self.parameter_bytes)}, activations "
            f"{megabytes(self.activation_bytes)} (every layer's output for the batch)",
        ]
        return "\n".join([title, rule, line(header), rule, *map(line, rows), rule, *totals])

    def __str__(self) -> str:
        return self.table()


def megabytes(count: int) -> str:
    return f"{count / 2**20:.2f} MB"


def summarize(model: nn.Module, input_shape, batch: int = 1, name: str = "",
              inputs: str = "image") -> Summary:
    """Summarise `model` for inputs of `input_shape` (without the batch dimension, e.g.
    (1, 32, 32)) in batches of `batch`. The model runs one forward pass on zeros, in eval mode
    on the CPU; its mode is put back afterwards. `inputs`: the kind of input (image, features,
    series, tokens)."""
    import torchinfo  # imported here: a training run needs only the per-image total

    input_shape = [int(side) for side in input_shape]
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    was_training = model.training
    try:
        if inputs == "image":
            statistics = torchinfo.summary(model, input_size=(batch, *input_shape),
                                           device="cpu", mode="eval", verbose=0)
        else:
            x = example_input(inputs, input_shape[0], input_shape[1:], batch)
            statistics = torchinfo.summary(model, input_data=[x], device="cpu", mode="eval",
                                           verbose=0)
    finally:
        model.train(was_training)
    names = {id(module): module_name for module_name, module in model.named_modules()}
    layers = [LayerSummary(name=names.get(id(info.module), info.var_name or ""),
                           type=info.class_name, output_shape=list(info.output_size),
                           parameters=max(info.num_params, 0),
                           macs=corrected_macs(info) or int(info.macs))
              for info in statistics.summary_list if info.is_leaf_layer]
    total_macs = sum(layer.macs for layer in layers)
    if inputs != "image" and total_macs == 0 and any(p.numel() for p in model.parameters()):
        total_macs = counted_products(model, example_input(inputs, input_shape[0],
                                                           input_shape[1:], batch))
    parameters = list(model.parameters())  # unique tensors, so shared weights count once
    return Summary(
        input_shape=input_shape, batch=batch, layers=layers, model=name,
        trainable_parameters=sum(p.numel() for p in parameters if p.requires_grad),
        frozen_parameters=sum(p.numel() for p in parameters if not p.requires_grad),
        # torchinfo counts for the whole batch; every layer here is linear in the batch size
        macs_per_input=(int(statistics.total_mult_adds) if inputs == "image" else total_macs)
        // batch,
        parameter_bytes=sum(p.numel() * p.element_size() for p in parameters),
        activation_bytes=sum(info.output_bytes for info in statistics.summary_list
                             if info.is_leaf_layer),
    )


def corrected_macs(info) -> int:
    """MACs of the layers torchinfo counts once per batch row where they run once per step
    (0 for every other layer: torchinfo's count stands). A layer's MACs are its parameters
    times the times it runs: a linear layer on (B, T, F) runs B x T times; a recurrent layer on
    a packed sequence once per packed step (torchinfo also multiplies by the packed width); a
    cell once per call (torchinfo also multiplies by the hidden size)."""
    parameters, shape = max(info.num_params, 0), [int(side) for side in info.output_size]
    if isinstance(info.module, nn.Linear) and len(shape) > 2:
        return parameters * math.prod(shape[:-1])
    packed = isinstance(info.module, nn.RNNBase) and len(shape) == 2
    if packed or isinstance(info.module, nn.RNNCellBase):
        return parameters * shape[0]
    return 0


@torch.no_grad()
def counted_products(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of the matrix products one forward pass makes (FlopCounterMode)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // FLOPS_PER_MAC


def input_kind(name: str, input_shape) -> str:
    """What the registered model `name` reads at this shape: mlp reads images (C, H, W) and
    table rows (F,)."""
    kinds = get_model_entry(name).inputs
    return "features" if "features" in kinds and len(input_shape) == 1 else kinds[0]


def summarize_model(name: str, input_shape, num_classes: int = 10, options: dict | None = None,
                    batch: int = 1) -> Summary:
    """Summarise the registered model `name` built for `input_shape`: (channels, height, width)
    for images, (features,) for tables, (features or alphabet, steps) for sequences."""
    channels, *size = input_shape
    model = create_model(name, in_channels=channels, num_classes=num_classes,
                         input_size=tuple(size), **(options or {}))
    return summarize(model, input_shape, batch, name=name, inputs=input_kind(name, input_shape))


def count_macs(model: nn.Module, input_shape, inputs: str = "image") -> int:
    """MACs for one input (what a run's results.json records as `macs`)."""
    return summarize(model, input_shape, inputs=inputs).macs_per_input


def summarize_run(run, batch: int = 1) -> Summary:
    """The model of a run directory, built from its best checkpoint's metadata (no weights
    loaded), at the run's input size."""
    from ..engine.checkpoint import read_checkpoint_metadata
    from ..workflows.checkpoint_metadata import check_metadata
    from ..workflows.run_dir import BEST, RunDirError, resolve_run_dir

    run_dir = resolve_run_dir(run)
    path = run_dir / BEST
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no {BEST} yet (the run has not finished its "
                                "first evaluation); summarise the model by name instead")
    meta = check_metadata(read_checkpoint_metadata(path), path)
    input_shape = [meta["in_channels"], *meta["input_size"]]  # tokens: at the longest sequence
    return summarize_model(meta["model"], input_shape, meta["num_classes"],
                           meta.get("model_options", {}), batch)
