"""A record of which images a run's splits held, to tell later whether the data changed.

Folder and CSV data sets are read from files that can change after a run was trained; the test
split is then carved again from different files, and images the model trained on can land in
"test". The record holds, per split, a content hash of every image (its decoded pixels, so a
renamed or re-saved file is still the same image) and one digest of the whole split (pixels,
labels and order). It is plain JSON (`data-split.json` in the run directory).
"""
from __future__ import annotations

import hashlib

from ._types import ImageDataset, Split

FORMAT = "trainlab-data-split-1"
SPLITS = ("train", "dev", "test")


def image_hashes(split: Split) -> list[str]:
    """A 64-bit content hash (hex) of each image's pixels (or table row's / sequence's values)."""
    inputs = split.images if isinstance(split, Split) else split.inputs
    rows = inputs.contiguous().flatten(1).numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest() for row in rows]


def split_digest(hashes: list[str], split: Split) -> str:
    digest = hashlib.sha256()
    digest.update(" ".join(hashes).encode())
    digest.update(split.labels.numpy().tobytes())
    return digest.hexdigest()


def record_splits(data: ImageDataset) -> dict:
    """What `data-split.json` holds: sizes, a digest per split and every image's hash."""
    splits = {}
    for name in SPLITS:
        split = getattr(data, name)
        hashes = image_hashes(split)
        splits[name] = {"images": len(split), "digest": split_digest(hashes, split),
                        "image_hashes": hashes}
    return {"format": FORMAT, "data": data.name, "classes": data.class_names, "splits": splits}


def split_changes(recorded: dict, data: ImageDataset, split: str) -> str | None:
    """None when `split` holds exactly the images (and labels, in order) it held when the record
    was made; otherwise what changed, in words, starting with the images the model trained on."""
    current = getattr(data, split)
    hashes = image_hashes(current)
    then = recorded["splits"][split]
    if split_digest(hashes, current) == then["digest"] and \
            data.class_names == recorded.get("classes", data.class_names):
        return None
    changes = []
    if split != "train":
        trained_on = set(recorded["splits"]["train"]["image_hashes"])
        seen = sum(h in trained_on for h in hashes)
        if seen:
            changes.append(f"{seen} of the {len(hashes)} {split} images were in its training "
                           "split")
    if data.class_names != recorded.get("classes", data.class_names):
        changes.append(f"the classes are now {', '.join(data.class_names)} (were "
                       f"{', '.join(recorded['classes'])})")
    before = set(then["image_hashes"])
    new = sum(h not in before for h in hashes)
    if new:
        changes.append(f"{new} {split} image(s) are new")
    if len(hashes) != then["images"]:
        changes.append(f"the {split} split has {len(hashes)} images (had {then['images']})")
    if not changes:
        changes.append(f"the {split} images or their labels are not the same")
    return "; ".join(changes)
