"""`csv:PATH`: a folder of images plus a labels CSV (seed 000's cifar10_tiny/trainLabels.csv).

PATH is the CSV file, or a folder holding exactly one. The CSV has a header; the image id is the
column named `id` (or the first column), the label the column named `label` (or the second).
Ids are file names with or without extension, found next to the CSV or in its `train/` or
`images/` subfolder. Labels may be class names or integers. An optional `classes.txt` next to
the CSV (one class name per line) fixes the classes and their order; a label not in it is an
unknown class.
"""
from __future__ import annotations

import csv
from pathlib import Path

from ._registry import register_dataset
from ._types import DataError, SourceData
from .image_files import decode_image_files, is_image_file

IMAGE_SUBFOLDERS = ("train", "images", "")


def find_labels_csv(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise DataError(f"csv data set {path}: no such file or folder")
    candidates = sorted(path.glob("*.csv"))
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise DataError(f"{path}: expected exactly one labels .csv file, found {found}; "
                        "pass the CSV itself: --data csv:PATH/labels.csv")
    return candidates[0]


def index_image_files(folder: Path) -> dict[str, Path]:
    """Map both 'name.png' and 'name' to the file, for every image in the candidate folders."""
    index: dict[str, Path] = {}
    for sub in reversed(IMAGE_SUBFOLDERS):  # earlier folders win
        directory = folder / sub
        if directory.is_dir():
            for file in directory.iterdir():
                if file.is_file() and is_image_file(file):
                    index[file.name] = file
                    index[file.stem] = file
    return index


def read_label_rows(csv_path: Path) -> list[tuple[int, str, str]]:
    """(row number, id, label) for each data row; row numbers count the header as row 1."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataError(f"{csv_path}: the file is empty; it needs a header line `id,label`")
    header = [h.strip().lower() for h in rows[0]]
    if len(header) < 2:
        raise DataError(f"{csv_path}: header {rows[0]} has fewer than two columns; "
                        "expected `id,label`")
    id_col = header.index("id") if "id" in header else 0
    label_col = header.index("label") if "label" in header else 1
    return [(number, (row[id_col] if len(row) > id_col else "").strip(),
             (row[label_col] if len(row) > label_col else "").strip())
            for number, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]


def read_class_list(csv_path: Path) -> list[str] | None:
    path = csv_path.parent / "classes.txt"
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(set(names)) != len(names):
        raise DataError(f"{path}: a class name appears twice")
    return names


def class_names_for(labels: list[str]) -> list[str]:
    """Integer labels keep their numbers (0..K-1 -> '0'..'K-1'); names are sorted."""
    if all(label.lstrip("-").isdigit() for label in labels):
        numbers = sorted({int(label) for label in labels})
        if numbers[0] < 0:
            raise DataError(f"negative class number {numbers[0]} in the labels")
        return [str(i) for i in range(numbers[-1] + 1)]
    return sorted(set(labels))


@register_dataset("csv", "your images plus a labels CSV with header `id,label`",
                  takes_path=True)
def csv_labelled_images(path: str, data_dir=None, download=False, image_size=None) -> SourceData:
    csv_path = find_labels_csv(Path(path).expanduser())
    rows = read_label_rows(csv_path)
    if not rows:
        raise DataError(f"{csv_path}: no data rows under the header")
    files = index_image_files(csv_path.parent)
    known = read_class_list(csv_path)
    problems, seen, paths, labels = [], {}, [], []
    for number, image_id, label in rows:
        where = f"{csv_path} row {number}"
        if not image_id:
            problems.append(f"{where}: empty id")
        elif image_id in seen:
            problems.append(f"{where}: duplicate id {image_id!r} (first on row {seen[image_id]})")
        elif not label:
            problems.append(f"{where}: empty label for {image_id!r}")
        elif known is not None and label not in known:
            problems.append(f"{where}: unknown class {label!r} (classes.txt lists "
                            f"{', '.join(known)})")
        elif image_id not in files:
            problems.append(f"{where}: no image file for id {image_id!r} in "
                            f"{', '.join(str(csv_path.parent / s) for s in IMAGE_SUBFOLDERS)}")
        else:
            paths.append(files[image_id])
            labels.append(label)
        seen.setdefault(image_id, number)
    class_names = known or class_names_for(labels or ["0"])
    lookup = {name: i for i, name in enumerate(class_names)}
    indices = [lookup[label] if known or not label.lstrip("-").isdigit()
               else lookup[str(int(label))] for label in labels]
    notes: list[str] = []
    split = decode_image_files(paths, indices, image_size, str(csv_path), notes, problems)
    return SourceData(train=split, class_names=class_names, notes=notes, problems=problems,
                      candidates=len(rows), origin=f"{csv_path} and its image files")
