import gzip
import os
import pickle

import numpy as np
import pytest

from fake_data import make_cifar_batches, write_idx
from trainlab.data import DataError
from trainlab.data._formats import read_cifar_batch, read_idx


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_roundtrip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x-idx3-ubyte", array, compress)
    path = tmp_path / ("x-idx3-ubyte.gz" if compress else "x-idx3-ubyte")
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_truncated_names_file(tmp_path):
    write_idx(tmp_path / "x", np.zeros((5, 4, 4), np.uint8), compress=False)
    path = tmp_path / "x"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match=r"x: IDX header says \(5, 4, 4\).*truncated"):
        read_idx(path)


def test_read_idx_rejects_non_idx(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)


def test_read_cifar_batch(tmp_path):
    make_cifar_batches(tmp_path, per_batch=4)
    batch = read_cifar_batch(tmp_path / "cifar-10-batches-py" / "data_batch_1")
    assert batch["data"].shape == (4, 3072) and batch["data"].dtype == np.uint8
    assert len(batch["labels"]) == 4


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar_reader_refuses_code_in_pickle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": _RunsCode(), "labels": [0]}))
    with pytest.raises(DataError, match="refusing to load"):
        read_cifar_batch(path)
    assert not (tmp_path / "pwned").exists()
