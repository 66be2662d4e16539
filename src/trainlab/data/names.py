"""`names:PATH`: names labelled by language, seed 003's name classifier's data.

Two layouts: a CSV file (plain or .gz) of `name,label` rows, as seed 003's names_train.csv.gz
(a first row `name,label` is a header), or a folder of `<label>.txt` files with one name per line,
as the PyTorch char-RNN tutorial's data/names. Each name becomes symbol indices over the
alphabet of every character in the file: 0 is padding, 1 a character the alphabet lacks (at
predict time), 2... the alphabet's characters.
"""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import torch

from ._examples import Examples, ExampleSource
from ._registry import register_dataset
from ._types import DataError, SampleProblems, check_data_hint, format_problems

PADDING, UNKNOWN, FIRST_SYMBOL = 0, 1, 2
MAX_NAME_LENGTH = 64


def encode_names(names: list[str], alphabet: str, length: int | None = None) -> torch.Tensor:
    """(N, length) int64 symbol indices, padded with 0 after each name; names longer than
    `length` (default: the longest) are cut."""
    index = {c: i + FIRST_SYMBOL for i, c in enumerate(alphabet)}
    length = length or max(1, max(map(len, names), default=1))
    codes = torch.zeros(len(names), length, dtype=torch.long)
    for row, name in enumerate(names):
        symbols = [index.get(c, UNKNOWN) for c in name[:length]]
        codes[row, :len(symbols)] = torch.tensor(symbols, dtype=torch.long)
    return codes


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"names file {path}: cannot read it ({error})") from error
    except UnicodeDecodeError as error:
        raise DataError(f"names file {path}: not UTF-8 text ({error})") from error


def rows_from_csv(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    rows, problems = [], []
    for number, row in enumerate(csv.reader(io.StringIO(read_text(path))), 1):
        if not any(cell.strip() for cell in row):
            continue
        if number == 1 and [c.strip().lower() for c in row] == ["name", "label"]:
            continue  # the header
        if len(row) != 2:
            problems.append(f"{path} row {number}: {len(row)} cells; expected name,label")
        elif not row[0].strip() or not row[1].strip():
            problems.append(f"{path} row {number}: empty {'name' if not row[0].strip() else 'label'}")
        elif len(row[0].strip()) > MAX_NAME_LENGTH:
            problems.append(f"{path} row {number}: a name longer than {MAX_NAME_LENGTH} characters")
        else:
            rows.append((row[0].strip(), row[1].strip()))
    return rows, problems


def rows_from_folder(folder: Path) -> tuple[list[tuple[str, str]], list[str]]:
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise DataError(f"names folder {folder}: no <label>.txt files; put one file per label with "
                        "one name per line (or give a name,label CSV file)")
    rows, problems = [], []
    for file in files:
        names = [line.strip() for line in read_text(file).splitlines() if line.strip()]
        if not names:
            problems.append(f"{file}: no names in it (every label needs names)")
        for number, name in enumerate(names, 1):
            if len(name) > MAX_NAME_LENGTH:
                problems.append(f"{file} line {number}: a name longer than {MAX_NAME_LENGTH} "
                                "characters")
            else:
                rows.append((name, file.stem))
    return rows, problems


@register_dataset("names", "names by language: a name,label CSV (.csv, .csv.gz) or a folder of "
                  "<label>.txt files", takes_path=True)
def names(path, data_dir=None, download=False, image_size=None) -> ExampleSource:
    path = Path(path).expanduser()
    if path.is_dir():
        rows, problems = rows_from_folder(path)
    elif path.is_file():
        rows, problems = rows_from_csv(path)
    else:
        raise DataError(f"names {path}: no such file or folder; give a name,label CSV file or a "
                        "folder of <label>.txt files")
    if problems:
        raise SampleProblems(f"{len(problems)} problem(s) in names {path}:\n"
                             f"{format_problems(problems, check_data_hint(f'names:{path}'))}\n"
                             "Fix those rows, then run again.", problems)
    labels = sorted({label for _, label in rows})
    if len(labels) < 2:
        raise DataError(f"names {path}: {len(rows)} names but {len(labels)} label(s); a "
                        "classifier needs at least two labels")
    alphabet = "".join(sorted({c for name, _ in rows for c in name}))
    index = {label: i for i, label in enumerate(labels)}
    inputs = encode_names([name for name, _ in rows], alphabet)
    targets = torch.tensor([index[label] for _, label in rows], dtype=torch.long)
    return ExampleSource(
        train=Examples(inputs, targets, padded=True), task="classification", inputs="tokens",
        class_names=labels, origin=f"names {path}",
        preprocessing={"alphabet": alphabet, "first_index": FIRST_SYMBOL,
                       "vocabulary_size": len(alphabet) + FIRST_SYMBOL,
                       "max_length": inputs.shape[1]})
