"""`predict_table(run, path)`: a table run's answer for every row of a CSV file, the columns
matched by name with the ones it was trained on and standardised with its training statistics."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import DataError
from ..data.tables import as_number, read_rows
from ..engine import resolve_device
from ..engine.tasks import class_probabilities
from .run_dir import RunDirError, load_run_model, resolve_run_dir


@dataclass
class RowPrediction:
    row: int  # the row's line number in the file
    classes: list[str]  # top-k classes, most probable first; [] for regression
    values: list[float]  # their probabilities, or the predicted target values


def feature_matrix(path: Path, feature_names: list[str]) -> tuple[torch.Tensor, list[int]]:
    """The file's values for `feature_names`, by header (extra columns, such as the target, are
    ignored); or, without a header, exactly those columns in that order. Every missing column and
    bad cell is named."""
    rows = read_rows(path)
    if not rows:
        raise DataError(f"table {path}: the file holds no rows")
    has_header = all(as_number(cell) is None for cell in rows[0])
    if has_header:
        header = [c.strip() for c in rows[0]]
        missing = [n for n in feature_names if n not in header]
        if missing:
            raise DataError(f"table {path}: no column(s) {', '.join(missing)}, which the run was "
                            f"trained on (it needs {', '.join(feature_names)})")
        columns, first_line, body = [header.index(n) for n in feature_names], 2, rows[1:]
    else:
        if len(rows[0]) != len(feature_names):
            raise DataError(f"table {path}: {len(rows[0])} columns and no header; the run needs "
                            f"its {len(feature_names)} feature columns, or a header naming them")
        columns, first_line, body = list(range(len(feature_names))), 1, rows
    values, problems, lines = [], [], []
    for line, row in enumerate(body, first_line):
        cells = [as_number(row[c].strip()) if c < len(row) else None for c in columns]
        problems += [f"row {line}, column {feature_names[i]!r}: not a number or missing"
                     for i, v in enumerate(cells) if v is None]
        values.append(cells)
        lines.append(line)
    if problems:
        raise DataError(f"{len(problems)} problem(s) in table {path}:\n  "
                        + "\n  ".join(problems[:50]))
    return torch.tensor(values, dtype=torch.float32), lines


@torch.no_grad()
def predict_table(run: str | Path, path: str | Path, top_k: int = 3, checkpoint=None,
                  device="auto") -> list[RowPrediction]:
    device = resolve_device(device)
    model, meta = load_run_model(resolve_run_dir(run), checkpoint, device=device)
    if meta.get("inputs") != "features":
        raise RunDirError(f"--table needs a run trained on a table; {run} was trained on "
                          f"{meta.get('inputs', 'image')} data")
    prep = meta["preprocessing"]
    x, lines = feature_matrix(Path(path).expanduser(), prep["feature_names"])
    x = (x - torch.tensor(prep["mean"])) / torch.tensor(prep["std"])
    outputs = model(x.to(device)).float().cpu()
    if meta["task"] == "regression":
        outputs = outputs * torch.tensor(prep["target_std"]) + torch.tensor(prep["target_mean"])
        return [RowPrediction(line, [], values) for line, values in zip(lines, outputs.tolist())]
    names = meta["class_names"]
    values, indices = class_probabilities(meta["task"], outputs).topk(min(top_k, len(names)), 1)
    return [RowPrediction(line, [names[i] for i in idx], vals)
            for line, vals, idx in zip(lines, values.tolist(), indices.tolist())]
