"""Tables: `table:PATH` CSV files (plain or .gz) and scikit-learn's embedded breast-cancer and
diabetes tables.

A table is feature columns plus one target column (by default the last, as seed 004's
diabetes.csv.gz; `--target NAME` picks another, by header name or 1-based column number). The
first row is a header when it has text where the second row has numbers. The task follows from the target:
text labels, or whole numbers with at most `MAX_CLASS_VALUES` distinct values, are classes (two
classes: binary); anything else is regression.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

import torch

from ._examples import Examples, ExampleSource
from ._registry import register_dataset
from ._types import DataError, SampleProblems, check_data_hint, format_problems

MAX_CLASS_VALUES = 20
MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-"}


def read_rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise DataError(f"table {path}: no such file; give the path of a .csv or .csv.gz file")
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"table {path}: cannot read it ({error})") from error
    except UnicodeDecodeError as error:
        raise DataError(f"table {path}: not UTF-8 text ({error}); save it as UTF-8 CSV") from error
    return [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]


def as_number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def looks_like_header(rows: list[list[str]]) -> bool:
    """A first row of text where the next row has numbers (a text target column, such as
    "low"/"high", has text in both), or a first row of text alone."""
    def text(cell):
        return as_number(cell) is None and cell.strip().lower() not in MISSING

    first = rows[0]
    if len(rows) < 2:
        return all(text(c) for c in first)
    return all(text(c) for c in first) or any(
        text(a) and not text(b) for a, b in zip(first, rows[1]))


def text_column_problems(texts: dict[int, list[tuple[int, str]]], names: list[str],
                         rows: int) -> list[str]:
    """A column that is text in every row is one problem (a category: --drop-column names it);
    text cells in a number column are one problem each, with their row."""
    problems = []
    for index, cells in texts.items():
        if rows > 1 and len(cells) == rows:
            distinct = list(dict.fromkeys(text for _, text in cells))[:3]
            examples = ", ".join(repr(text) for text in distinct)
            problems.append(f"column {names[index]!r}: text in every row (e.g. {examples}), not "
                            f"a number; leave it out with --drop-column {names[index]}")
        else:
            problems += [f"row {number}, column {names[index]!r}: not a number ({text!r})"
                         for number, text in cells]
    return problems


def find_target(target: str | None, names: list[str], path: Path) -> int:
    return len(names) - 1 if target is None else find_column(target, names, path, "--target")


def find_column(name: str, names: list[str], path: Path, flag: str) -> int:
    """A column by header name, or by number from 1."""
    if name in names:
        return names.index(name)
    if name.isdigit() and 1 <= int(name) <= len(names):
        return int(name) - 1
    raise DataError(f"table {path}: no column {name!r} for {flag}; its columns are "
                    f"{', '.join(names)} (or give a column number from 1 to {len(names)})")


def table_source(rows: list[list[str]], path: Path, target: str | None,
                 origin: str, drop_columns: list[str] | tuple = ()) -> ExampleSource:
    """Rows of text cells -> standardisable float features and a target, every bad cell named.
    `drop_columns` (names or numbers from 1, as --target takes them) are left out: an id or a
    text column."""
    if not rows:
        raise DataError(f"table {path}: the file holds no rows")
    has_header = looks_like_header(rows)
    width = len(rows[0])
    names = [c.strip() or f"column {i + 1}" for i, c in enumerate(rows[0])] if has_header \
        else [f"column {i + 1}" for i in range(width)]
    body = rows[1:] if has_header else rows
    first_line = 2 if has_header else 1
    if width < 2:
        raise DataError(f"table {path}: only {width} column; a table needs feature columns and "
                        "a target column (comma-separated)")
    column = find_target(target, names, path)
    dropped = {find_column(name, names, path, "--drop-column") for name in drop_columns}
    if column in dropped:
        raise DataError(f"--drop-column {names[column]}: that is the target column; drop another, "
                        "or choose the target with --target")
    if len(dropped) == width - 1:
        raise DataError(f"table {path}: --drop-column leaves no feature column (the columns are "
                        f"{', '.join(names)}; the target is {names[column]!r})")
    problems, features, labels = [], [], []
    texts = {index: [] for index in range(width)}  # feature column -> its cells that are text
    for number, row in enumerate(body, first_line):
        if len(row) != width:
            problems.append(f"row {number}: {len(row)} cells, the header has {width}")
            continue
        values = []
        for index, cell in enumerate(row):
            if index == column or index in dropped:
                continue
            value = as_number(cell.strip())
            if value is None:
                if cell.strip().lower() in MISSING:
                    problems.append(f"row {number}, column {names[index]!r}: missing value")
                else:
                    texts[index].append((number, cell.strip()[:30]))
            values.append(value)
        label = row[column].strip()
        if label.lower() in MISSING:
            problems.append(f"row {number}, column {names[column]!r} (the target): missing value")
        features.append(values)
        labels.append(label)
    # Whole columns first, then every cell in row order.
    problems = sorted(text_column_problems(texts, names, len(body)) + problems,
                      key=lambda line: int(line.split()[1].rstrip(":,")) if line.startswith("row ")
                      else 0)
    if problems:
        raise SampleProblems(f"{len(problems)} problem(s) in table {path}:\n"
                             f"{format_problems(problems, check_data_hint(f'table:{path}'))}\n"
                             "Fill in or remove those cells (every "
                             "feature must be a number), then run again.", problems)
    if not body:
        raise DataError(f"table {path}: a header but no data rows")
    task, targets, class_names = target_values(labels)
    feature_names = [n for i, n in enumerate(names) if i != column and i not in dropped]
    return ExampleSource(
        train=Examples(torch.tensor(features, dtype=torch.float32), targets), task=task,
        inputs="features", class_names=class_names, origin=origin, standardise=True,
        preprocessing={"feature_names": feature_names, "target": names[column]},
        notes=[f"target column {names[column]!r} ({task}"
               + (f": {', '.join(class_names[:12])}" if class_names else "") + f"), "
               f"{len(feature_names)} feature columns" + ("" if has_header else ", no header row")
               + (f", left out: {', '.join(names[i] for i in sorted(dropped))}" if dropped else "")])


def target_values(labels: list[str]) -> tuple[str, torch.Tensor, list[str]]:
    """(task, targets, class names) for a target column's text."""
    numbers = [as_number(v) for v in labels]
    whole = all(n is not None and n == int(n) for n in numbers)
    if all(n is not None for n in numbers) and not (whole and len(set(numbers)) <= MAX_CLASS_VALUES):
        return "regression", torch.tensor(numbers, dtype=torch.float32).unsqueeze(1), []
    if whole:
        values = sorted(set(numbers))
        class_names = [f"{v:g}" for v in values]
        index = {v: i for i, v in enumerate(values)}
        codes = [index[n] for n in numbers]
    else:
        class_names = sorted(set(labels))
        index = {v: i for i, v in enumerate(class_names)}
        codes = [index[v] for v in labels]
    task = "binary" if len(class_names) == 2 else "classification"
    if len(class_names) < 2:
        raise DataError(f"the target column holds one value only ({class_names[0]!r}); nothing to "
                        "learn")
    return task, torch.tensor(codes, dtype=torch.long), class_names


@register_dataset("table", "a CSV table (.csv or .csv.gz): feature columns and a target column "
                  "(the last, or --target NAME)", takes_path=True)
def table(path, data_dir=None, download=False, image_size=None, target=None,
          drop_columns=()) -> ExampleSource:
    path = Path(path).expanduser()
    return table_source(read_rows(path), path, target, f"table {path}", drop_columns)


def sklearn_table(bunch, target, origin: str) -> ExampleSource:
    """An embedded scikit-learn table, through the same reader checks as a file."""
    header = [*bunch.feature_names, "target"]
    rows = [header] + [[repr(float(v)) for v in x] + [repr(y.item())]
                       for x, y in zip(bunch.data, bunch.target)]
    source = table_source(rows, Path(origin), target, origin)
    return source


@register_dataset("breast-cancer", "scikit-learn's breast-cancer table: 569 rows, 30 features, "
                  "malignant/benign (binary; embedded, offline)")
def breast_cancer(data_dir=None, download=False, image_size=None, target=None) -> ExampleSource:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    source = sklearn_table(bunch, target, "scikit-learn's embedded breast-cancer table")
    if target is None:  # 0/1 -> the names scikit-learn gives them
        source.class_names = [str(n) for n in bunch.target_names]
        source.notes = [f"target: {' / '.join(source.class_names)} (binary), 30 feature columns"]
    return source


@register_dataset("diabetes", "scikit-learn's diabetes table: 442 rows, 10 features, disease "
                  "progression (regression; embedded, offline)")
def diabetes(data_dir=None, download=False, image_size=None, target=None) -> ExampleSource:
    from sklearn.datasets import load_diabetes

    return sklearn_table(load_diabetes(), target, "scikit-learn's embedded diabetes table")
