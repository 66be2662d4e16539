"""`folder:PATH`: one subfolder per class (torchvision's ImageFolder layout, seed 002's cats/dogs).

When PATH has `train/` (and optionally `val/` or `valid/`, and `test/`) subfolders, each holds the
class subfolders and gives that split; otherwise PATH's subfolders are the classes.
"""
from __future__ import annotations

from pathlib import Path

from ._registry import register_dataset
from ._types import PASSED_OVER_LISTED, DataError, SourceData
from .image_files import decode_image_files, is_image_file

SPLIT_FOLDERS = {"train": ("train",), "dev": ("val", "valid", "validation", "dev"),
                 "test": ("test",)}


def list_class_files(root: Path, class_names: list[str], notes: list[str], fatal: list[str],
                     passed_over: list[str]):
    """(paths, labels) under root/<class>/; empty class folders go to `fatal`, and the files
    without an image extension go to `passed_over` (a note says how many)."""
    paths, labels, skipped = [], [], []
    for index, name in enumerate(class_names):
        folder = root / name
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        images = [p for p in files if is_image_file(p)]
        skipped += [p for p in files if not is_image_file(p)]
        if not images and root.name not in SPLIT_FOLDERS["test"] + SPLIT_FOLDERS["dev"]:
            fatal.append(f"{folder}: class folder has no image files")
        paths += images
        labels += [index] * len(images)
    if skipped:
        listed = ", ".join(str(p) for p in skipped[:5]) + (
            f" ... ({PASSED_OVER_LISTED})" if len(skipped) > 5 else "")
        notes.append(f"{root}: passed over {len(skipped)} file(s) without an image extension: "
                     f"{listed}")
        passed_over += [f"{p}: passed over (not an image file extension)" for p in skipped]
    return paths, labels


@register_dataset("folder", "your images, one subfolder per class (train/ val/ test/ optional)",
                  takes_path=True)
def image_folder(path: str, data_dir=None, download=False, image_size=None) -> SourceData:
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"folder data set {root} is not a directory")
    split_roots = {}
    for split, names in SPLIT_FOLDERS.items():
        found = [root / n for n in names if (root / n).is_dir()]
        if found:
            split_roots[split] = found[0]
    if "train" not in split_roots:
        split_roots = {"train": root}
    class_names = sorted(p.name for p in split_roots["train"].iterdir()
                         if p.is_dir() and not p.name.startswith("."))
    if len(class_names) < 2:
        raise DataError(f"{split_roots['train']}: found {len(class_names)} class subfolder(s); "
                        "a classifier needs one subfolder per class, at least two")
    notes: list[str] = []
    problems: list[str] = []
    fatal: list[str] = []
    passed_over: list[str] = []
    candidates = 0
    splits = {}
    for split, split_root in split_roots.items():
        extra = sorted(p.name for p in split_root.iterdir() if p.is_dir() and p.name not in class_names)
        if extra and split != "train":
            fatal.append(f"{split_root}: class folder(s) {', '.join(extra)} are not in "
                         f"{split_roots['train']}; every class must have training images")
        paths, labels = list_class_files(split_root, class_names, notes, fatal, passed_over)
        candidates += len(paths)
        splits[split] = decode_image_files(paths, labels, image_size, str(split_root), notes,
                                           problems)
    if len({tuple(s.images.shape[1:]) for s in splits.values() if len(s)}) > 1:
        raise DataError(f"{root}: the train/val/test images decode to different shapes "
                        f"{[tuple(s.images.shape[1:]) for s in splits.values()]}; set --image-size")
    return SourceData(train=splits["train"], dev=splits.get("dev"), test=splits.get("test"),
                      class_names=class_names, notes=notes, problems=problems,
                      candidates=candidates, fatal=fatal, origin=f"folder {root}",
                      passed_over=passed_over)
