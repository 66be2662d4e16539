"""Readers for the on-disk formats of the classic data sets, without torchvision's checks.

torchvision verifies CIFAR-10 files against fixed MD5 sums and expects MNIST files unpacked; these
readers take the same formats as they are found (IDX plain or .gz, as Debian ships Fashion-MNIST),
so generated files in those formats can be tested too.
"""
from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import numpy as np

from ._types import DataError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (MNIST's format), plain or gzip-compressed."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"{path}: broken gzip file ({error}); download it again") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number); download it again")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX header says {shape} ({expected} bytes of data) but the file "
                        f"holds {len(raw) - header}; the file is truncated, download it again")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """CIFAR-10's python batches are pickles. Allow only what they contain (numpy arrays, lists,
    dicts, bytes), so a crafted batch file cannot run code when it is read."""

    _ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"),
    })

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> dict:
    """Read one `cifar-10-batches-py` file into {'data': (N, 3072) uint8, 'labels': [...]}."""
    try:
        with open(path, "rb") as handle:
            batch = _ArrayOnlyUnpickler(io.BufferedReader(handle), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise DataError(f"{path}: not a CIFAR-10 python batch ({error}); download it again") \
            from error
    batch = {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}
    labels = batch.get("labels", batch.get("fine_labels"))
    if "data" not in batch or labels is None:
        raise DataError(f"{path}: CIFAR-10 batch without 'data'/'labels' entries")
    return {"data": np.asarray(batch["data"], dtype=np.uint8), "labels": list(labels),
            **{k: v for k, v in batch.items() if k not in ("data", "labels")}}
