"""`csv:PATH`: a folder of images plus a labels CSV (seed 000's cifar10_tiny/trainLabels.csv).

PATH is the CSV file, or a folder holding exactly one. The CSV has a header; the image id is the
column named `id` (or the first column), the label the column named `label` (or the second). A
first line whose id names an image file is data, not a header (said in a note). Ids are file
names with or without extension, found next to the CSV or in its `train/` or `images/`
subfolder. Labels may be class names or integers; integers are the classes in numeric order
(1..4 make four classes, none of them an empty class 0). An optional `classes.txt` next to the
CSV (one class name per line) fixes the classes and their order; a label not in it is an
unknown class, a class in it with no image gets a note. A class with a single image among
classes with many is named in a note: often a typo in a label.
"""
from __future__ import annotations

import csv
import re
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


def read_label_rows(csv_path: Path, files: dict[str, Path],
                    notes: list[str]) -> list[tuple[int, str, str]]:
    """(row number, id, label) for each data row, numbered as lines of the file. The first line
    is the header unless its id cell names one of `files` (then it is data, and a note says so)."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataError(f"{csv_path}: the file is empty; it needs a header line `id,label`")
    header = [h.strip().lower() for h in rows[0]]
    if len(header) < 2:
        raise DataError(f"{csv_path}: header {rows[0]} has fewer than two columns; "
                        "expected `id,label`")
    label_col = header.index("label") if "label" in header else 1
    # The id: its named column, else the first column that is not the label's.
    id_col = header.index("id") if "id" in header else (1 if label_col == 0 else 0)
    first = 2
    if rows[0][id_col].strip() in files:
        notes.append(f"{csv_path} has no header line: its first line names an image file "
                     f"({rows[0][id_col].strip()!r}), so it is read as data (ids in column 1, "
                     "labels in column 2)")
        first = 1
    return [(number, (row[id_col] if len(row) > id_col else "").strip(),
             (row[label_col] if len(row) > label_col else "").strip())
            for number, row in enumerate(rows[first - 1:], start=first)
            if any(cell.strip() for cell in row)]


def read_class_list(csv_path: Path) -> list[str] | None:
    path = csv_path.parent / "classes.txt"
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(set(names)) != len(names):
        raise DataError(f"{path}: a class name appears twice")
    return names


def class_names_for(labels: list[str], csv_path: Path, notes: list[str]) -> list[str]:
    """Integer labels: the numbers found, in numeric order ('07' is '7'); a note when they are
    not 0..K-1 (the model's outputs then stand for them in order). Names: sorted."""
    if all(is_whole_number(label) for label in labels):
        numbers = sorted({int(label) for label in labels})
        if numbers != list(range(len(numbers))):
            shown = ", ".join(map(str, numbers[:12])) + (", ..." if len(numbers) > 12 else "")
            notes.append(f"{csv_path}: the class numbers are {shown}, not 0..{len(numbers) - 1}: "
                         f"the model's {len(numbers)} outputs stand for them in that order (the "
                         "names keep the numbers)")
        return [str(number) for number in numbers]
    return sorted(set(labels))


def is_whole_number(label: str) -> bool:
    return re.fullmatch(r"-?[0-9]+", label) is not None  # (str.isdigit takes "²", int() does not)


def class_name(label: str) -> str:
    """A label as its class name: integers without leading zeros."""
    return str(int(label)) if is_whole_number(label) else label


def check_class_counts(csv_path: Path, class_names: list[str], labels: list[str],
                       rows: list[int], from_list: bool, notes: list[str]) -> None:
    """classes.txt classes with no image get a note (the model keeps an output for each, never
    trained); a class of one image where the others have ten or more gets a note with its row."""
    counts = {name: 0 for name in class_names}
    for label in labels:
        counts[label] += 1
    empty = [name for name, count in counts.items() if count == 0]
    if empty and from_list:
        notes.append(f"{csv_path.parent / 'classes.txt'} lists {len(empty)} class(es) with no "
                     f"image in {csv_path.name}: {', '.join(empty[:10])}; the model keeps an output "
                     "for each that no image trains (remove them from classes.txt, or add images)")
    others = sorted(counts.values())
    if len(others) > 2 and others[len(others) // 2] >= 10:
        for name in [name for name, count in counts.items() if count == 1]:
            row = rows[labels.index(name)]
            notes.append(f"{csv_path} row {row}: class {name!r} has this one image while most "
                         "classes have 10 or more; a typo in the label?")


@register_dataset("csv", "your images plus a labels CSV with header `id,label`",
                  takes_path=True)
def csv_labelled_images(path: str, data_dir=None, download=False, image_size=None) -> SourceData:
    csv_path = find_labels_csv(Path(path).expanduser())
    files = index_image_files(csv_path.parent)
    notes: list[str] = []
    rows = read_label_rows(csv_path, files, notes)
    if not rows:
        raise DataError(f"{csv_path}: no data rows under the header")
    known = read_class_list(csv_path)
    problems, seen, paths, labels, label_rows = [], {}, [], [], []
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
            labels.append(label if known else class_name(label))
            label_rows.append(number)
        seen.setdefault(image_id, number)
    class_names = known or class_names_for(labels or ["0"], csv_path, notes)
    if labels:
        check_class_counts(csv_path, class_names, labels, label_rows, known is not None, notes)
    lookup = {name: i for i, name in enumerate(class_names)}
    indices = [lookup[label] for label in labels]
    split = decode_image_files(paths, indices, image_size, str(csv_path), notes, problems)
    return SourceData(train=split, class_names=class_names, notes=notes, problems=problems,
                      candidates=len(rows), origin=f"{csv_path} and its image files")
