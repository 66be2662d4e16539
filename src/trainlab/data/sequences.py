"""Built-in sequence data sets: seed 000's sin -> cos and seed 003's "hello" -> "ohlol".

Both are generated, so they work offline everywhere and in a fraction of a second.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ._examples import Examples, ExampleSource
from ._registry import register_dataset

SINE_WINDOWS = 600
SINE_STEPS = 10  # seed 000's TIME_STEP: 10 points over half a period (pi)


@register_dataset("sine", "sin -> cos: 600 windows of 10 steps (per-step regression; "
                  "generated, offline)")
def sine(data_dir=None, download=False, image_size=None) -> ExampleSource:
    """Each window is seed 000's: 10 evenly spaced points over a span of pi, input sin(t), target
    cos(t). The course slid the window along by pi each step and carried the hidden state over;
    here each window starts at its own random phase (fixed seed) and starts from a zero state,
    so windows can be shuffled and batched and the test windows are ones never trained on."""
    rng = np.random.default_rng(0)
    starts = rng.uniform(0, 2 * math.pi, SINE_WINDOWS) + math.pi * rng.integers(0, 100, SINE_WINDOWS)
    t = starts[:, None] + np.linspace(0, math.pi, SINE_STEPS)[None, :]
    inputs = torch.from_numpy(np.sin(t)).float().unsqueeze(-1)  # (N, T, 1)
    targets = torch.from_numpy(np.cos(t)).float().unsqueeze(-1)
    return ExampleSource(train=Examples(inputs, targets), task="regression", inputs="series",
                         class_names=[], origin="generated sin -> cos windows",
                         preprocessing={"steps": SINE_STEPS})


HELLO_ALPHABET = "ehlo"  # seed 003's idx2char


@register_dataset("hello", "one sequence, \"hello\" -> \"ohlol\" (per-step classes; "
                  "train, dev and test are that sequence)")
def hello(data_dir=None, download=False, image_size=None) -> ExampleSource:
    """Seed 003's x_data [1, 0, 2, 2, 3] ("hello") and y_data [3, 1, 2, 3, 2] ("ohlol"). The
    exercise is to learn this one mapping, so dev and test are the same sequence."""
    def encode(text):
        return torch.tensor([[HELLO_ALPHABET.index(c) for c in text]])

    example = Examples(encode("hello"), encode("ohlol"))
    return ExampleSource(train=example, dev=example, test=example, task="classification",
                         inputs="tokens", class_names=list(HELLO_ALPHABET),
                         origin="the hello -> ohlol sequence",
                         preprocessing={"alphabet": HELLO_ALPHABET, "first_index": 0,
                                        "vocabulary_size": len(HELLO_ALPHABET)},
                         notes=["hello: one sequence; train, dev and test are all "
                                "\"hello\" -> \"ohlol\""])
