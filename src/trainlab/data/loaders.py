"""`TensorLoader`: the fast path. Batches straight out of in-memory uint8 tensors.

It is an iterable of `(x, y)` batches with `len()`, so it goes wherever a DataLoader goes
(including `Runner.train`). Shuffling, augmentation and normalisation run a batch at a time on the
target device; there are no worker processes and no per-sample Python.
"""
from __future__ import annotations

import math

import torch

from ._types import Split
from .transforms import AUGMENTATIONS, augment, normalize


class TensorLoader:
    """Iterate over a `Split` in batches.

    >>> loader = TensorLoader(data.train, batch_size=128, mean=data.mean, std=data.std,
    ...                       shuffle=True, augment="crop-flip", seed=0)
    >>> for x, y in loader: ...
    """

    def __init__(self, split: Split, batch_size: int, mean, std, shuffle: bool = False,
                 augment: str = "none", seed: int = 0, device: str | torch.device = "cpu",
                 drop_last: bool = False, channels_last: bool = False, rank: int = 0,
                 world_size: int = 1):
        if augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {augment!r}; choose from {AUGMENTATIONS}")
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.device = torch.device(device)
        # Keep the uint8 images where the model runs: moving 4x smaller uint8 batches, or none at
        # all when the whole set sits on the GPU.
        self.images = split.images.to(self.device)
        self.labels = split.labels.to(self.device)
        self.batch_size = batch_size
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device)
        self.shuffle = shuffle
        self.augment = augment
        self.drop_last = drop_last
        self.channels_last = channels_last
        self.generator = torch.Generator().manual_seed(seed)
        # Multi-process training: every process draws the same order (same seed) and takes every
        # world_size-th sample of it, so batch k of all processes together is batch k of a
        # single process with world_size times the batch size.
        self.rank, self.world_size = rank, world_size
        # Where iteration stands, so a run can stop mid-epoch and resume on the same batches.
        self._order: torch.Tensor | None = None
        self._position = 0
        self._resuming = False

    def __len__(self) -> int:
        n = self.samples_per_process
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def samples_per_process(self) -> int:
        return len(self.labels) // self.world_size

    def state_dict(self) -> dict:
        """The generator, this epoch's order and the next batch: enough to resume mid-epoch."""
        return {"generator": self.generator.get_state(), "position": self._position,
                "order": None if self._order is None else self._order.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self._order = None if state["order"] is None else state["order"].to(self.device)
        self._position = state["position"]
        self._resuming = True

    def __iter__(self):
        if self._resuming and self._position > 0:  # continue the interrupted epoch
            order, first = self._order, self._position
        else:
            n = len(self.labels)
            order = torch.randperm(n, generator=self.generator).to(self.device) \
                if self.shuffle else None
            first = 0
        self._resuming = False
        self._order = order
        mine = None
        if self.world_size > 1:
            everything = order if order is not None else torch.arange(len(self.labels),
                                                                      device=self.device)
            mine = everything[self.rank::self.world_size][:self.samples_per_process]
        elif order is not None:
            mine = order
        for batch in range(first, len(self)):
            start = batch * self.batch_size
            index = slice(start, start + self.batch_size) if mine is None else \
                mine[start:start + self.batch_size]
            images = self.images[index]
            if self.augment != "none":
                images = augment(images, self.augment, self.generator)
            x = normalize(images, self.mean, self.std)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            self._position = batch + 1
            yield x, self.labels[index]
        self._order, self._position = None, 0
