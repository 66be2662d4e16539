"""Recurrent networks from seeds 000 and 003.

Series models read (B, T, F) floats and answer at every step, (B, T, outputs); token models read
(B, T) symbol indices. `name-rnn` reads padded names (0 is padding) and answers once per name.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from ._registry import register_model


class StepRegressor(nn.Module):
    """Seed 000's `Rnn`: nn.RNN (batch first), then one linear layer applied at every step."""

    def __init__(self, in_features: int, hidden: int, outputs: int, layers: int = 1):
        super().__init__()
        self.rnn = nn.RNN(in_features, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, x):  # (B, T, F) -> (B, T, outputs)
        r_out, _ = self.rnn(x)  # the course's h_0 = None: a zero state
        return self.out(r_out)


class ScratchRNN(nn.Module):
    """Seed 000's RNN written out: H = tanh(X W_xh + H W_hh + b_h), Y = H W_hq + b_q."""

    def __init__(self, in_features: int, hidden: int, outputs: int):
        super().__init__()
        self.hidden = hidden

        def weight(*shape):  # the course draws N(0, 1) * 0.01 (d2l's normal(shape) * 0.01)
            return nn.Parameter(torch.randn(*shape) * 0.01)

        self.W_xh, self.W_hh = weight(in_features, hidden), weight(hidden, hidden)
        self.b_h = nn.Parameter(torch.zeros(hidden))
        self.W_hq, self.b_q = weight(hidden, outputs), nn.Parameter(torch.zeros(outputs))

    def forward(self, x):  # (B, T, F) -> (B, T, outputs)
        H = x.new_zeros(x.shape[0], self.hidden)
        outputs = []
        for X in x.unbind(dim=1):  # one time step at a time, as the course's loop
            H = torch.tanh(X @ self.W_xh + H @ self.W_hh + self.b_h)
            outputs.append(H @ self.W_hq + self.b_q)
        return torch.stack(outputs, dim=1)


@register_model("rnn", inputs=("series",))
def rnn(*, in_channels, num_classes, input_size, hidden: int = 32, layers: int = 1):
    """nn.RNN with hidden 32 and a linear output at every step (the sin -> cos network).

    Seed 000's `Rnn`.
    """
    return StepRegressor(in_channels, hidden, num_classes, layers)


@register_model("rnn-scratch", inputs=("series",))
def rnn_scratch(*, in_channels, num_classes, input_size, hidden: int = 32):
    """An RNN written out: explicit W_xh, W_hh, b_h, tanh, W_hq, b_q.

    Seed 000's RNN from scratch.
    """
    return ScratchRNN(in_channels, hidden, num_classes)


class OneHotRNNCell(nn.Module):
    """Seed 003's first "hello" model: one-hot letters into an RNNCell whose hidden state (of
    the alphabet's size) is the output at each step."""

    def __init__(self, alphabet: int, outputs: int):
        super().__init__()
        self.alphabet = alphabet
        self.rnncell = nn.RNNCell(alphabet, outputs)

    def forward(self, x):  # (B, T) -> (B, T, outputs)
        inputs = F.one_hot(x, self.alphabet).float()
        hidden = inputs.new_zeros(x.shape[0], self.rnncell.hidden_size)
        outputs = []
        for step in inputs.unbind(dim=1):
            hidden = self.rnncell(step, hidden)
            outputs.append(hidden)
        return torch.stack(outputs, dim=1)


class OneHotRNN(nn.Module):
    """Seed 003's second: the same with nn.RNN doing the loop."""

    def __init__(self, alphabet: int, outputs: int, layers: int = 1):
        super().__init__()
        self.alphabet = alphabet
        self.rnn = nn.RNN(alphabet, outputs, num_layers=layers, batch_first=True)

    def forward(self, x):
        out, _ = self.rnn(F.one_hot(x, self.alphabet).float())
        return out


class EmbeddingRNN(nn.Module):
    """Seed 003's third: Embedding(4, 10), a 2-layer RNN with hidden 8, Linear(8, 4)."""

    def __init__(self, alphabet: int, outputs: int, embedding: int, hidden: int, layers: int):
        super().__init__()
        self.emb = nn.Embedding(alphabet, embedding)
        self.rnn = nn.RNN(embedding, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, outputs)

    def forward(self, x):
        out, _ = self.rnn(self.emb(x))
        return self.fc(out)


@register_model("char-rnncell", inputs=("tokens",))
def char_rnncell(*, in_channels, num_classes, input_size):
    """One-hot letters into an RNNCell whose hidden state is the output at each step.

    Seed 003's first hello model.
    """
    return OneHotRNNCell(in_channels, num_classes)


@register_model("char-rnn", inputs=("tokens",))
def char_rnn(*, in_channels, num_classes, input_size, layers: int = 1):
    """One-hot letters into nn.RNN whose hidden state is the output at each step.

    Seed 003's second hello model.
    """
    return OneHotRNN(in_channels, num_classes, layers)


@register_model("char-embedding-rnn", inputs=("tokens",))
def char_embedding_rnn(*, in_channels, num_classes, input_size, embedding: int = 10,
                       hidden: int = 8, layers: int = 2):
    """Embedding 10, 2-layer RNN with hidden 8, linear head at each step.

    Seed 003's third hello model.
    """
    return EmbeddingRNN(in_channels, num_classes, embedding, hidden, layers)


CELLS = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}


class NameClassifier(nn.Module):
    """Seed 003's `RNNClassifier`: embedding, a (bidirectional) recurrent network over packed
    padded sequences, and a linear head on the last layer's final states of both directions.

    A batch is one (B, T) tensor with 0 as padding after each name; the lengths are read from
    it, so padding costs no recurrent steps (pack_padded_sequence) and never changes a result."""

    def __init__(self, alphabet: int, outputs: int, hidden: int, layers: int,
                 bidirectional: bool, cell: str):
        super().__init__()
        self.directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(alphabet, hidden, padding_idx=0)
        self.rnn = CELLS[cell](hidden, hidden, layers, bidirectional=bidirectional,
                               batch_first=True)
        self.fc = nn.Linear(hidden * self.directions, outputs)

    def forward(self, x):  # (B, T) -> (B, outputs)
        lengths = (x != 0).sum(dim=1).clamp_min(1).cpu()
        packed = pack_padded_sequence(self.embedding(x), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, hidden = self.rnn(packed)
        if isinstance(hidden, tuple):  # LSTM: (h, c)
            hidden = hidden[0]
        # The last layer's final states, both directions in the course's order.
        last = torch.cat([hidden[-1], hidden[-2]], dim=1) if self.directions == 2 else hidden[-1]
        return self.fc(last)


@register_model("name-rnn", inputs=("tokens",))
def name_rnn(*, in_channels, num_classes, input_size, hidden: int = 100, layers: int = 2,
             bidirectional: bool = True, cell: Literal["gru", "lstm", "rnn"] = "gru"):
    """Embedding, 2-layer bidirectional GRU (or lstm/rnn) over packed sequences, linear head.

    Seed 003's name classifier.
    """
    return NameClassifier(in_channels, num_classes, hidden, layers, bidirectional, cell)
