"""table:PATH data sets and the embedded tables: header or none, .gz, --target, task detection,
standardisation from the training split, and one clear error for every bad table."""
import pytest
import torch

from fake_data import write_table
from trainlab.cli.main import main
from trainlab.data import DataError, create_dataset


def test_binary_table_with_header_is_standardised_from_train(tmp_path):
    path = write_table(tmp_path / "t.csv", n=80, task="binary")
    data = create_dataset(f"table:{path}")
    assert data.task == "binary" and data.class_names == ["0", "1"] and data.num_classes == 1
    assert data.input_kind == "features" and data.in_channels == 3
    assert (len(data.train), len(data.dev), len(data.test)) == (58, 6, 16)
    assert data.train.labels.dtype == torch.long
    # Standardised with train's own statistics: train has mean 0 and std 1; test does not have to.
    torch.testing.assert_close(data.train.inputs.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.train.inputs.std(0), torch.ones(3), atol=1e-5, rtol=0)
    prep = data.preprocessing()
    assert prep["feature_names"] == ["f0", "f1", "f2"] and prep["target"] == "label"
    assert 9 < prep["mean"][0] < 11 and 2 < prep["std"][0] < 4  # the raw columns' scale


def test_gzip_without_header_and_target_by_number(tmp_path):
    path = write_table(tmp_path / "t.csv.gz", n=40, task="classes", header=False,
                       target_first=True)
    data = create_dataset(f"table:{path}", target="1")
    assert data.task == "classification" and data.class_names == ["high", "low", "mid"]
    assert data.preprocessing()["feature_names"] == ["column 2", "column 3", "column 4"]
    assert any("no header row" in note for note in data.notes)


def test_regression_targets_and_target_by_name(tmp_path):
    path = write_table(tmp_path / "t.csv", n=40, task="regression", target_first=True)
    data = create_dataset(f"table:{path}", target="label")
    assert data.task == "regression" and data.class_names == [] and data.num_classes == 1
    assert data.train.labels.shape == (len(data.train), 1)
    assert "target_std" in data.preprocessing()


@pytest.mark.parametrize("rows, expected", [
    ("a,b,y\n1,2,0\n3,x,1\n4,5,1\n", r"row 3, column 'b': not a number \('x'\)"),
    ("a,b,y\n1,2,0\n3,,1\n4,NA,1\n",
     r"2 problem\(s\).*row 3, column 'b': missing value.*row 4, column 'b': missing value"),
    ("a,b,y\n1,2,0\n3,4\n", r"row 3: 2 cells, the header has 3"),
    ("a,b,y\n1,,0\nx,2,1\n5,6,0\n",  # in row order, whatever the kind of problem
     r"row 2, column 'b': missing value\n  row 3, column 'a': not a number \('x'\)"),
    ("a,b,y\n1,2,\n3,4,1\n", r"row 2, column 'y' \(the target\): missing value"),
    ("a,b,y\n1,2,0\n3,4,0\n", r"one value only"),
    ("a,b,y\n", r"a header but no data rows"),
])
def test_bad_tables_name_rows_and_columns(tmp_path, rows, expected):
    path = tmp_path / "bad.csv"
    path.write_text(rows)
    with pytest.raises(DataError, match=rf"(?s){expected}"):
        create_dataset(f"table:{path}")


def test_a_text_column_is_one_problem_and_check_data_lists_every_problem(tmp_path, capsys):
    """A column of text (an id, a category) is one line naming the fix, not one line per row;
    `trainlab check-data` lists every problem of a table, past the 50 an error shows."""
    rows = ["a,colour,b,y"] + [f"{i},{('red', 'green', 'blue')[i % 3]},{'' if i > 5 else i},{i % 2}"
                               for i in range(70)]
    path = tmp_path / "colours.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as error:
        create_dataset(f"table:{path}")
    message = str(error.value)
    assert message.startswith(f"65 problem(s) in table {path}:\n  column 'colour': text in every "
                              "row (e.g. 'red', 'green', 'blue'), not a number; leave it out with "
                              "--drop-column colour")
    assert "row 8, column 'b': missing value" in message  # the first of 64 empty cells
    assert f"... and 15 more (`trainlab check-data table:{path}` lists them all)" in message
    assert main(["check-data", f"table:{path}"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"table:{path}: 65 problem(s)"
    assert "row 71, column 'b': missing value" in out  # the last one, past the 50 shown above
    assert out[-1] == "65 problem(s); 65 must be fixed before training (--on-bad-sample skip does " \
                      "not fix them)"


def test_drop_column_leaves_an_id_and_a_text_column_out(tmp_path, capsys):
    """--drop-column by name or number: the run trains on the other features, records them, and
    predict reads a file with the same columns; the target and unknown columns are refused."""
    rows = ["id,colour,x0,x1,y"] + [f"{100 + i},{('red', 'blue')[i % 2]},{i % 7},{(3 * i) % 5},"
                                    f"{int(i % 7 + (3 * i) % 5 > 5)}" for i in range(80)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n")
    data = create_dataset(f"table:{path}", drop_columns=["colour", "1"])
    assert data.preprocessing()["feature_names"] == ["x0", "x1"]
    assert "left out: id, colour" in data.notes[0]
    run = tmp_path / "run"
    argv = ["train", "--data", f"table:{path}", "--model", "logistic", "--epochs", "1",
            "--log-steps", "0", "--out", str(run)]
    assert main([*argv, "--drop-column", "colour", "--drop-column", "id"]) == 0
    assert main(["predict", str(run), "--table", str(path)]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines()
                if line.startswith("row ")]) == 80
    for flag, message in ((["--drop-column", "y"], "--drop-column y: that is the target column"),
                          (["--drop-column", "size"], "no column 'size' for --drop-column; its "
                                                      "columns are id, colour, x0, x1, y")):
        assert main([*argv[:-1], str(tmp_path / "refused"), *flag]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(DataError, match="--drop-column id: only table:PATH data sets"):
        create_dataset("digits", drop_columns=["id"])
    with pytest.raises(DataError, match="--drop-column leaves no feature column"):
        create_dataset(f"table:{path}", drop_columns=["id", "colour", "x0", "x1"])
    assert main(["check-data", f"table:{path}"]) == 1  # the text column, as training reads it
    assert "leave it out with --drop-column colour" in capsys.readouterr().out
    assert main(["check-data", f"table:{path}", "--drop-column", "colour"]) == 0
    assert "left out: colour" in capsys.readouterr().out


def test_a_missing_target_column_lists_the_columns(tmp_path, capsys):
    path = write_table(tmp_path / "t.csv", n=20)
    with pytest.raises(DataError, match=r"no column 'price' for --target; its columns are f0, "
                                        r"f1, f2, label \(or give a column number from 1 to 4\)"):
        create_dataset(f"table:{path}", target="price")
    code = main(["train", "--model", "logistic", "--data", f"table:{path}", "--target", "price",
                 "--out", str(tmp_path / "run")])
    assert code == 2 and "no column 'price'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    with pytest.raises(DataError, match="--target label: data set 'digits' has no target"):
        create_dataset("digits", target="label")


def test_a_missing_file_and_an_image_model_on_a_table(tmp_path, capsys):
    assert main(["train", "--model", "logistic", "--data", f"table:{tmp_path / 'no.csv'}"]) == 2
    assert "no such file" in capsys.readouterr().err
    path = write_table(tmp_path / "t.csv", n=20)
    assert main(["train", "--model", "cnn", "--data", f"table:{path}"]) == 2
    err = capsys.readouterr().err
    assert "--model cnn does not read table rows" in err and "linear, logistic, mlp" in err


def test_embedded_tables():
    cancer = create_dataset("breast-cancer")
    assert cancer.task == "binary" and cancer.class_names == ["malignant", "benign"]
    assert cancer.in_channels == 30 and len(cancer.train) + len(cancer.dev) + len(cancer.test) == 569
    diabetes = create_dataset("diabetes")
    assert diabetes.task == "regression" and diabetes.in_channels == 10
