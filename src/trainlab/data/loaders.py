"""`TensorLoader`: the fast path. Batches straight out of in-memory uint8 tensors.

It is an iterable of `(x, y)` batches with `len()`, so it goes wherever a DataLoader goes
(including `Runner.train`). Shuffling, augmentation and normalisation run a batch at a time on the
target device; there are no worker processes and no per-sample Python.

On a GPU the uint8 data set is uploaded once when it fits in `DEVICE_MEMORY_SHARE` of the free
GPU memory (Fashion-MNIST: 55 MB); otherwise it stays in pinned host memory and each batch is
gathered there and copied without blocking. The shuffle order and every augmentation's random
numbers are drawn for the whole epoch at its start, on the CPU, and sent over in one copy: the
loader never makes the host wait for the GPU during an epoch.
"""
from __future__ import annotations

import math

import torch

from ._types import Split
from .transforms import (
    AUGMENTATIONS,
    apply_augmentation,
    draw_augmentation,
    normalization_constants,
    scale_and_shift,
)

# Upload a data set to the GPU only if it takes at most this share of the free GPU memory; the
# rest is left for the model's weights, activations and the optimizer.
DEVICE_MEMORY_SHARE = 0.5


def fits_on_device(tensors: list[torch.Tensor], device: torch.device,
                   share: float = DEVICE_MEMORY_SHARE) -> bool:
    if device.type != "cuda":
        return True  # CPU (and MPS, which shares memory with the host)
    free, _ = torch.cuda.mem_get_info(device)
    return sum(t.numel() * t.element_size() for t in tensors) <= share * free


class TensorLoader:
    """Iterate over a `Split` (or a table/sequence `Examples`: then `mean`/`std` are None and
    the inputs go out as they are, token batches cut to their longest sequence) in batches.

    >>> loader = TensorLoader(data.train, batch_size=128, mean=data.mean, std=data.std,
    ...                       shuffle=True, augment="crop-flip", seed=0)
    >>> for x, y in loader: ...
    """

    def __init__(self, split: Split, batch_size: int, mean, std, shuffle: bool = False,
                 augment: str = "none", seed: int = 0, device: str | torch.device = "cpu",
                 drop_last: bool = False, channels_last: bool = False, rank: int = 0,
                 world_size: int = 1, device_share: float = DEVICE_MEMORY_SHARE):
        if augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {augment!r}; choose from {AUGMENTATIONS}")
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.device = torch.device(device)
        # Keep the uint8 images where the model runs when they fit: 4x smaller than floats, and
        # no copy at all per batch.
        inputs = split.images if isinstance(split, Split) else split.inputs
        self.resident = fits_on_device([inputs, split.labels], self.device, device_share)
        home = self.device if self.resident else torch.device("cpu")
        self.images = inputs.to(home)
        self.labels = split.labels.to(home)
        if not self.resident:  # only on CUDA: host memory the GPU can copy from asynchronously
            self.images, self.labels = self.images.pin_memory(), self.labels.pin_memory()
        self.batch_size = batch_size
        self.trim = getattr(split, "padded", False)
        self.normalise = mean is not None  # images; tables and sequences are ready as they are
        if self.normalise:
            self.scale, self.shift = normalization_constants(mean, std, self.device)
        elif augment != "none":
            raise ValueError("augmentation applies to images only")
        self.shuffle = shuffle
        self.augment = augment
        self.drop_last = drop_last
        self.channels_last = channels_last
        self.generator = torch.Generator().manual_seed(seed)
        # Multi-process training: every process draws the same order (same seed) and takes every
        # world_size-th sample of it, so batch k of all processes together is batch k of a
        # single process with world_size times the batch size, augmentations included.
        self.rank, self.world_size = rank, world_size
        # Where iteration stands, so a run can stop mid-epoch and resume on the same batches:
        # the generator's state when this epoch's plan was drawn, and the next batch.
        self._epoch_generator_state: torch.Tensor | None = None
        self._position = 0
        self._resuming = False

    def __len__(self) -> int:
        n = self.samples_per_process
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def samples_per_process(self) -> int:
        return len(self.labels) // self.world_size

    def state_dict(self) -> dict:
        """Enough to resume mid-epoch: the generator state this epoch was drawn from, and the
        next batch (at an epoch boundary: the current generator state, position 0)."""
        mid_epoch = self._position > 0 and self._epoch_generator_state is not None
        state = self._epoch_generator_state if mid_epoch else self.generator.get_state()
        return {"generator": state, "position": self._position if mid_epoch else 0}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self._position = state["position"]
        self._resuming = True

    def peek(self):
        """The first batch of a freshly drawn epoch, leaving the loader exactly as it was (its
        generator, position and resume state; used by --compile's warm-up), or None when the
        loader yields no batch."""
        if len(self) == 0:
            return None
        saved = (self.generator.get_state(), self._position, self._resuming,
                 self._epoch_generator_state)
        self._resuming = False
        try:
            return next(iter(self))
        finally:
            generator_state, self._position, self._resuming, self._epoch_generator_state = saved
            self.generator.set_state(generator_state)

    def _draw_epoch(self) -> tuple[torch.Tensor | None, dict]:
        """This epoch's order and augmentation numbers, drawn on the CPU, moved in one copy each.
        Augmentation numbers belong to positions in the order, so every process of a
        multi-process run applies what a single process would to the same image."""
        self._epoch_generator_state = self.generator.get_state()
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        params = draw_augmentation(self.augment, n, self.images.shape[-1], self.generator)
        if self.world_size > 1:
            if order is None:
                order = torch.arange(n)
            mine = slice(self.rank, self.world_size * self.samples_per_process, self.world_size)
            order = order[mine]
            params = {k: v[..., mine] for k, v in params.items()}
        index_home = self.images.device
        order = None if order is None else order.to(index_home)
        params = {k: v.to(self.device, non_blocking=True) for k, v in params.items()}
        return order, params

    def __iter__(self):
        first = self._position if self._resuming else 0
        self._resuming = False
        order, params = self._draw_epoch()
        for batch in range(first, len(self)):
            start = batch * self.batch_size
            window = slice(start, start + self.batch_size)
            index = window if order is None else order[window]
            images, labels = self._take(index)
            if params:
                images = apply_augmentation(images, self.augment,
                                            {k: v[..., window] for k, v in params.items()})
            x = scale_and_shift(images, self.scale, self.shift, self.channels_last) \
                if self.normalise else (trim_padding(images) if self.trim else images)
            self._position = batch + 1
            yield x, labels
        self._epoch_generator_state, self._position = None, 0

    def _take(self, index):
        """One batch of uint8 images and labels, on the device."""
        if self.resident:
            return self.images[index], self.labels[index]
        # Gather into pinned host memory, then copy without making the host wait (the caching
        # host allocator keeps the pinned batch alive until its copy has finished).
        return tuple(t[index].pin_memory().to(self.device, non_blocking=True)
                     for t in (self.images, self.labels))


def trim_padding(inputs: torch.Tensor) -> torch.Tensor:
    """A token batch (B, T), padded with 0 at the end, cut to its longest sequence."""
    longest = int((inputs != 0).sum(dim=1).max())
    return inputs[:, :max(1, longest)]
