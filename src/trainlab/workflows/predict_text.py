"""`predict_texts(run, texts)`: a sequence run's answer for words typed in, e.g. the top-3
languages of "Nakamura" from a names run, or the letters a hello run writes for "hello"."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.names import MAX_NAME_LENGTH, encode_names
from ..engine import resolve_device
from .run_dir import RunDirError, load_run_model, resolve_run_dir


@dataclass
class TextPrediction:
    text: str
    classes: list[str]  # top-k classes, most probable first (per-step models: one string)
    probabilities: list[float]


def encode_texts(texts: list[str], preprocessing: dict) -> torch.Tensor:
    """Symbol indices as the run's data set made them: names (0 padding, 1 unknown
    character) or a fixed alphabet such as hello's, where an unknown letter is refused."""
    alphabet = preprocessing["alphabet"]
    if preprocessing.get("first_index", 0) > 0:
        return encode_names(texts, alphabet, min(MAX_NAME_LENGTH, max(map(len, texts))))
    for text in texts:
        unknown = sorted(set(text) - set(alphabet))
        if unknown:
            raise RunDirError(f"--text {text!r}: this run knows only the letters {alphabet!r}, "
                              f"not {', '.join(map(repr, unknown))}")
    if len({len(t) for t in texts}) > 1:
        raise RunDirError("--text: this run reads sequences of one length at a time; give texts "
                          "of the same length")
    return torch.tensor([[alphabet.index(c) for c in text] for text in texts])


@torch.no_grad()
def predict_texts(run: str | Path, texts: list[str], top_k: int = 3,
                  checkpoint: str | None = None, device="auto") -> list[TextPrediction]:
    """Top-k classes of each text (names), or for a per-step model the letter it predicts at
    each step, with the mean probability of those letters."""
    if top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {top_k}")
    texts = [t.strip() for t in texts]
    if not all(texts):
        raise RunDirError("--text: an empty text; give at least one character")
    device = resolve_device(device)
    model, meta = load_run_model(resolve_run_dir(run), checkpoint, device=device)
    if meta.get("inputs") != "tokens":
        raise RunDirError(f"--text needs a run trained on text (names:PATH or hello); {run} "
                          f"was trained on {meta.get('inputs', 'image')} data: predict files "
                          "with it instead")
    names = meta["class_names"]
    probabilities = model(encode_texts(texts, meta["preprocessing"]).to(device)).float() \
        .softmax(dim=-1).cpu()
    if probabilities.dim() == 3:  # one answer per step: the most probable letter at each
        values, indices = probabilities.max(dim=-1)
        return [TextPrediction(text, ["".join(names[i] for i in row)], [v.mean().item()])
                for text, row, v in zip(texts, indices.tolist(), values)]
    values, indices = probabilities.topk(min(top_k, len(names)), dim=1)
    return [TextPrediction(text, [names[i] for i in idx], vals)
            for text, vals, idx in zip(texts, values.tolist(), indices.tolist())]
