"""The data-set registry: `create_dataset(name, ...)` and `list_datasets()`.

A source is one function registered with `@register_dataset`; it reads files and returns a
`SourceData`. Everything after that (carving test/dev splits, limiting, resizing, normalisation
statistics) happens here once, the same for every source.
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ._examples import ExampleDataset, Examples, ExampleSource
from ._types import (
    DataError,
    ImageDataset,
    SampleProblems,
    SourceData,
    Split,
    check_data_hint,
    format_problems,
    raise_problems,
)
from .transforms import permute_pixels as shuffle_pixels
from .transforms import pixel_permutation


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    builder: Callable[..., SourceData]
    summary: str
    takes_path: bool  # "folder:PATH" style


_DATASETS: dict[str, DatasetEntry] = {}

# Splits carved from a source's train split use this fixed seed, whatever the training seed, so
# every run on a data set is scored on the same test and dev images.
SPLIT_SEED = 0
DEFAULT_TEST_FRACTION = 0.2
BAD_SAMPLE_POLICIES = ("error", "skip")


def register_dataset(name: str, summary: str, takes_path: bool = False):
    def decorate(builder):
        if name in _DATASETS:
            raise ValueError(f"data set {name!r} is registered twice")
        _DATASETS[name] = DatasetEntry(name, builder, summary, takes_path)
        return builder

    return decorate


def list_datasets() -> list[DatasetEntry]:
    return [_DATASETS[name] for name in sorted(_DATASETS)]


def parse_dataset_name(spec: str) -> tuple[DatasetEntry, str | None]:
    """'fashion-mnist' -> (entry, None); 'folder:/data/pets' -> (entry, '/data/pets')."""
    name, _, path = spec.partition(":")
    if name not in _DATASETS:
        known = ", ".join(e.name + (":PATH" if e.takes_path else "") for e in list_datasets())
        raise DataError(f"unknown data set {spec!r}; available: {known}")
    entry = _DATASETS[name]
    if entry.takes_path and not path:
        raise DataError(f"data set {name!r} needs a path: --data {name}:PATH")
    if not entry.takes_path and path:
        raise DataError(f"data set {name!r} takes no path (got {spec!r})")
    return entry, path or None


def absolute_data_spec(spec: str) -> str:
    """'folder:pets' -> 'folder:/home/me/pets' (and '~' expanded): what a run saves, so that its
    later commands (evaluate, export, plot, resume) find the data from any working directory.
    Named data sets, and specs that do not parse (refused later, with the reason), stay as they are."""
    name, sep, path = spec.partition(":")
    entry = _DATASETS.get(name)
    if not sep or not path or entry is None or not entry.takes_path:
        return spec
    return f"{name}:{os.path.abspath(os.path.expanduser(path))}"


def data_label(spec: str | None) -> str | None:
    """'folder:/home/me/pets' -> 'folder:pets': what exports and `trainlab serve` show of a run's
    data, which names it without giving away where its files are on the machine that trained."""
    if not spec:
        return spec
    name, sep, path = spec.partition(":")
    return f"{name}:{Path(path).name or path}" if sep and path else spec


def carve(split: Split, fraction: float, seed: int = SPLIT_SEED) -> tuple[Split, Split]:
    """Randomly move `fraction` of `split` into a second split (fixed seed)."""
    if not 0 < fraction < 1:
        raise ValueError(f"split fraction must be between 0 and 1, got {fraction}")
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    n_out = max(1, round(len(split) * fraction))
    if n_out >= len(split):
        raise DataError(f"cannot carve {fraction:.0%} from only {len(split)} images")
    return split.subset(order[n_out:]), split.subset(order[:n_out])


def split_sizes_and_limits(name, train, dev, test, dev_fraction, limit_train, limit_dev, notes,
                           what="images", limit_test=None):
    """The shared split policy (images, tables and sequences alike): carve a test split when the
    source has none, carve dev unless the source ships one, then apply the limits."""
    if len(train) == 0:
        raise DataError(f"{name}: no training {what}")
    if test is None or len(test) == 0:
        train, test = carve(train, DEFAULT_TEST_FRACTION)
        notes.append(f"no test split found: held out {len(test)} of the training {what} as test")
    if (dev is None or len(dev) == 0) and dev_fraction > 0:
        train, dev = carve(train, dev_fraction)
    elif dev is None:
        dev = train.subset(torch.arange(0))
    for flag, limit in (("--limit-train", limit_train), ("--limit-dev", limit_dev),
                        ("--limit-test", limit_test)):
        if limit is not None and limit < 1:
            raise DataError(f"{flag} must be at least 1, got {limit}")
    if limit_test is not None and limit_test < len(test):
        notes.append(f"--limit-test {limit_test}: scoring on {limit_test} of {len(test)} test "
                     f"{what}")
        test = test.subset(torch.arange(limit_test))
    if limit_train is not None and limit_train < len(train):
        notes.append(f"--limit-train {limit_train}: training on {limit_train} of {len(train)} "
                     f"training {what}; dev has {min(len(dev), limit_dev or len(dev))} and test "
                     f"{len(test)} {what}" + ("" if limit_dev else " (--limit-dev N limits dev)"))
        train = train.subset(torch.arange(limit_train))
    if limit_dev is not None and limit_dev < len(dev):
        notes.append(f"--limit-dev {limit_dev}: evaluating on {limit_dev} of {len(dev)} dev {what}")
        dev = dev.subset(torch.arange(limit_dev))
    return train, dev, test


def finish_examples(name: str, source: ExampleSource, dev_fraction, limit_train,
                    limit_dev, limit_test=None) -> ExampleDataset:
    """Splits for a table or sequence source, and standardised features (and regression
    targets): each column's mean and std come from the training split alone (so dev/test tell
    nothing to training) and are saved in the checkpoint, where predict finds them. Reported
    MSE and MAE are converted back to the target's own units."""
    notes = list(source.notes)
    train, dev, test = split_sizes_and_limits(name, source.train, source.dev, source.test,
                                              dev_fraction, limit_train, limit_dev, notes,
                                              "examples", limit_test)
    preprocessing = dict(source.preprocessing)
    if source.standardise:
        mean = train.inputs.mean(dim=0)
        std = train.inputs.std(dim=0).nan_to_num(1.0).clamp_min(1e-6)  # a constant column
        train, dev, test = (Examples((s.inputs - mean) / std, s.labels) for s in (train, dev, test))
        preprocessing.update(mean=mean.tolist(), std=std.tolist())
        if source.task == "regression":  # targets too: a network's outputs start near 0
            t_mean, t_std = train.labels.mean(dim=0), train.labels.std(dim=0).nan_to_num(1.0)
            t_std = t_std.clamp_min(1e-6)
            train, dev, test = (Examples(s.inputs, (s.labels - t_mean) / t_std)
                                for s in (train, dev, test))
            preprocessing.update(target_mean=t_mean.tolist(), target_std=t_std.tolist())
    return ExampleDataset(name=name, task=source.task, input_kind=source.inputs,
                          class_names=list(source.class_names), train=train, dev=dev, test=test,
                          preprocessing_info=preprocessing, notes=notes, origin=source.origin)


def resize_split(split: Split, size: tuple[int, int]) -> Split:
    """Resize every image once, up front (bilinear, antialiased), keeping uint8."""
    if tuple(split.images.shape[2:]) == tuple(size):
        return split
    if len(split) == 0:  # e.g. no dev split (--dev-fraction 0)
        return Split(torch.zeros(0, split.images.shape[1], *size, dtype=torch.uint8), split.labels)
    resized = F.interpolate(split.images.float(), size=size, mode="bilinear",
                            align_corners=False, antialias=True)
    return Split(resized.round().clamp(0, 255).to(torch.uint8), split.labels)


def channel_statistics(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images, on the 0..1 scale."""
    x = images.float().div_(255).transpose(0, 1).flatten(1)  # (C, N*H*W)
    std = x.std(dim=1).clamp_min(1e-3)  # a constant channel must not divide by zero
    return tuple(x.mean(dim=1).tolist()), tuple(std.tolist())


# The default --data-dir need not exist (digits are embedded, Fashion-MNIST may come from
# Debian's package); a folder the user names must.
DEFAULT_DATA_DIR = "data"


def load_source(name: str, data_dir: str | Path = DEFAULT_DATA_DIR, image_size: int | None = None,
                download: bool = False, target: str | None = None,
                drop_columns: list[str] | tuple = ()) -> SourceData | ExampleSource:
    """Run the registered source for `name` ('fashion-mnist', 'folder:PATH', ...). `target`
    (a table's target column) and `drop_columns` go to the sources that take them."""
    entry, path = parse_dataset_name(name)
    takes_target = "target" in inspect.signature(entry.builder).parameters
    if Path(data_dir) != Path(DEFAULT_DATA_DIR) and not Path(data_dir).is_dir() and not download:
        raise DataError(f"--data-dir {data_dir} is not a folder; pass the folder that holds the "
                        "data files (or leave --data-dir out)")
    kwargs = {"data_dir": Path(data_dir), "download": download, "image_size": image_size}
    if target is not None and not takes_target:
        raise DataError(f"--target {target}: data set {name!r} has no target column to choose "
                        "(only table:PATH data sets do); drop --target")
    if takes_target:
        kwargs["target"] = target
    if drop_columns:
        if "drop_columns" not in inspect.signature(entry.builder).parameters:
            raise DataError(f"--drop-column {drop_columns[0]}: only table:PATH data sets have "
                            f"columns to leave out, not {name!r}; drop --drop-column")
        kwargs["drop_columns"] = drop_columns
    return entry.builder(path, **kwargs) if entry.takes_path else entry.builder(**kwargs)


@dataclass
class DataCheck:
    """What `check_dataset` found: every problem (those no skipping fixes first), a summary."""

    problems: list[str]
    cannot_skip: int  # the first `cannot_skip` problems are not fixed by --on-bad-sample skip
    summary: str
    notes: list[str]
    passed_over: list[str]  # files not read (e.g. no image extension), each with why

    def advice(self) -> str:
        if not self.problems:
            return "no problems found"
        skippable = len(self.problems) - self.cannot_skip
        if not self.cannot_skip:
            return (f"{skippable} problem(s); training stops on these unless --on-bad-sample "
                    "skip (which leaves them out)")
        return (f"{len(self.problems)} problem(s); {self.cannot_skip} must be fixed before "
                "training (--on-bad-sample skip does not fix them)"
                + (f", {skippable} could be left out with --on-bad-sample skip" if skippable
                   else ""))


def check_dataset(name: str, data_dir: str | Path = DEFAULT_DATA_DIR,
                  image_size: int | None = None, target: str | None = None,
                  drop_columns: list[str] | tuple = ()) -> DataCheck:
    """Every problem in a data set (bad files, bad label rows, empty classes), and a summary line.
    What `trainlab check-data` prints; training runs the same checks before step 1."""
    try:
        source = load_source(name, data_dir, image_size, target=target,
                             drop_columns=drop_columns)
    except SampleProblems as error:  # a table's bad cells: every one, none of them skippable
        return DataCheck(error.problems, len(error.problems),
                         f"{name}: {len(error.problems)} problem(s)", [], [])
    if isinstance(source, ExampleSource):  # its reader raised on any bad row already
        total = sum(len(s) for s in (source.train, source.dev, source.test) if s)
        return DataCheck([], 0, f"{name}: checked {total} examples ({source.task}) from "
                         f"{source.origin or name}; 0 problem(s)", source.notes, [])
    problems = source.fatal + source.problems
    total = source.candidates or sum(len(s) for s in (source.train, source.dev, source.test) if s)
    summary = (f"{name}: checked {total} samples in {len(source.class_names)} classes "
               f"({', '.join(source.class_names[:12])}{' ...' if len(source.class_names) > 12 else ''})"
               f" from {source.origin or name}; {len(problems)} problem(s)")
    return DataCheck(problems, len(source.fatal), summary, source.notes, source.passed_over)


def apply_bad_sample_policy(source: SourceData, name: str, on_bad_sample: str,
                            max_bad_fraction: float, notes: list[str]) -> None:
    """'error': any bad sample stops everything, listing them all. 'skip': leave them out, say
    which (each once), but stop if more than `max_bad_fraction` of the samples are bad."""
    if on_bad_sample not in BAD_SAMPLE_POLICIES:
        raise DataError(f"--on-bad-sample must be one of {', '.join(BAD_SAMPLE_POLICIES)}")
    if source.fatal or (source.problems and on_bad_sample == "error"):
        raise_problems(source.fatal, source.problems, name)
    if not source.problems:
        return
    bad, total = len(source.problems), max(1, source.candidates)
    if bad / total > max_bad_fraction:
        raise DataError(f"{bad} of {total} samples in {name} ({bad / total:.1%}) are bad, more "
                        f"than --max-bad-fraction {max_bad_fraction:g} allows:\n"
                        f"{format_problems(source.problems, check_data_hint(name))}")
    notes.append(f"skipped {bad} bad sample(s) of {total}:\n"
                 f"{format_problems(source.problems, 'all in the run directory: bad-samples.txt')}")


def create_dataset(
    name: str,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    image_size: int | None = None,
    dev_fraction: float = 0.1,
    limit_train: int | None = None,
    download: bool = False,
    on_bad_sample: str = "error",
    max_bad_fraction: float = 0.05,
    limit_dev: int | None = None,
    permute_pixels: int | None = None,
    limit_test: int | None = None,
    target: str | None = None,
    drop_columns: list[str] | tuple = (),
) -> ImageDataset | ExampleDataset:
    """Load a registered data set as uint8 tensors with train/dev/test splits.

    `dev_fraction=0` carves no dev split (the dev split is then empty, unless the source ships
    one); `limit_train`/`limit_dev`/`limit_test` keep the first N images of those splits (the
    test split is cut only when asked, e.g. by the experiments' small subsets).
    `permute_pixels=SEED` shuffles the pixel positions of every image by one fixed permutation
    drawn from SEED (seed 002's permuted-pixel experiment).

    >>> data = create_dataset("digits")          # scikit-learn's 8x8 digits, upscaled to 32x32
    >>> data.train.images.shape                   # torch.Size([1294, 1, 32, 32])
    """
    source = load_source(name, data_dir, image_size, download, target, drop_columns)
    if isinstance(source, ExampleSource):
        if permute_pixels is not None:
            raise DataError(f"--permute-pixels shuffles image pixels; {name} holds no images")
        return finish_examples(name, source, dev_fraction, limit_train, limit_dev, limit_test)
    notes = list(source.notes)
    apply_bad_sample_policy(source, name, on_bad_sample, max_bad_fraction, notes)
    train, dev, test = split_sizes_and_limits(name, source.train, source.dev, source.test,
                                              dev_fraction, limit_train, limit_dev, notes,
                                              limit_test=limit_test)
    size = image_size or source.default_image_size
    if size:
        train, dev, test = (resize_split(s, (size, size)) for s in (train, dev, test))
    if permute_pixels is not None:
        permutation = pixel_permutation(permute_pixels, *train.images.shape[2:])
        train, dev, test = (Split(shuffle_pixels(s.images, permutation), s.labels)
                            for s in (train, dev, test))
        notes.append(f"pixels shuffled by one fixed permutation (seed {permute_pixels}), the "
                     "same for every split")
    mean, std = source.mean, source.std
    if mean is None or std is None:
        mean, std = channel_statistics(train.images)
    return ImageDataset(name=name, class_names=list(source.class_names), train=train, dev=dev,
                        test=test, mean=tuple(mean), std=tuple(std), notes=notes,
                        problems=list(source.problems), origin=source.origin,
                        passed_over=list(source.passed_over), permute_pixels=permute_pixels)
