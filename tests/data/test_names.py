"""names:PATH (CSV, .csv.gz, folder of <label>.txt), its errors, and the Faker names file."""
import pytest
import torch

from fake_data import make_names, write_names_csv, write_names_folder
from trainlab.cli.main import main
from trainlab.data import DataError, create_dataset
from trainlab.data.names import encode_names


@pytest.mark.parametrize("layout", ["csv", "csv.gz", "folder"])
def test_every_layout_gives_the_same_padded_names(tmp_path, layout):
    rows = make_names(10)
    if layout == "folder":
        path = write_names_folder(tmp_path / "names", rows)
    else:
        path = write_names_csv(tmp_path / f"names.{layout}", rows, header=layout == "csv")
    data = create_dataset(f"names:{path}")
    assert data.task == "classification" and data.input_kind == "tokens"
    assert data.class_names == ["Japanese", "Spanish", "Swedish"]
    assert len(data.train) + len(data.dev) + len(data.test) == 30 and data.train.padded
    alphabet = data.preprocessing()["alphabet"]
    assert data.in_channels == len(alphabet) + 2  # padding and unknown come first
    longest = max(len(n) for n, _ in rows)
    assert data.train.inputs.shape[1] == longest and data.train.inputs.dtype == torch.long


def test_encoding_pads_with_zero_and_marks_unknown_characters():
    codes = encode_names(["ab", "b?"], "ab", length=3)
    assert codes.tolist() == [[2, 3, 0], [3, 1, 0]]


def test_bad_names_are_listed_with_their_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,label\nAbe,Japanese\n,Swedish\nOlsson\nRuiz,Spanish,x\nGarcia,\n")
    with pytest.raises(DataError, match=r"(?s)4 problem\(s\).*row 3: empty name.*row 4: 1 cells"
                                        r".*row 5: 3 cells.*row 6: empty label"):
        create_dataset(f"names:{path}")
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "Irish.txt").write_text("Murphy\nKelly\n")
    with pytest.raises(DataError, match="at least two labels"):
        create_dataset(f"names:{tmp_path / 'one'}")
    (tmp_path / "one" / "Empty.txt").write_text("\n")
    with pytest.raises(DataError, match=r"Empty\.txt: no names in it"):
        create_dataset(f"names:{tmp_path / 'one'}")
    with pytest.raises(DataError, match=r"no <label>\.txt files"):
        create_dataset(f"names:{tmp_path}")


def test_make_names_writes_a_names_file_from_faker(tmp_path, capsys):
    pytest.importorskip("faker")
    out = tmp_path / "names.csv.gz"
    assert main(["make-names", str(out), "--per-label", "20"]) == 0
    assert "wrote" in capsys.readouterr().out
    data = create_dataset(f"names:{out}")
    assert {"Japanese", "German", "Irish", "Chinese"} <= set(data.class_names)
    total = len(data.train) + len(data.dev) + len(data.test)
    assert 20 * 10 <= total <= 20 * len(data.class_names)
    assert main(["make-names", str(tmp_path / "again.csv.gz"), "--per-label", "20"]) == 0
    assert (tmp_path / "again.csv.gz").read_bytes() == out.read_bytes()  # the same seed, the same file


def test_check_data_lists_every_bad_row_of_a_names_file(tmp_path, capsys):
    path = tmp_path / "names.csv"
    path.write_text("name,label\nAbe,English\n,Chinese\nLi,\nSmith,English\n")
    assert main(["check-data", f"names:{path}"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"names:{path}: 2 problem(s)"
    assert f"{path} row 3: empty name" in out and f"{path} row 4: empty label" in out
