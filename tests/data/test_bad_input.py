"""Bad input, each case on generated files: one clear report, nothing silently dropped."""
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageOps

from fake_data import make_csv_dataset, make_image_folder
from trainlab.cli.main import main
from trainlab.data import DataError, check_dataset, create_dataset


def write_bad_files(folder):
    """One file per kind of damage; returns {file name: words its report must contain}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.png").write_bytes(b"")
    (folder / "one-byte.png").write_bytes(b"\x89")
    (folder / "text.jpg").write_text("this is not a picture")
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)) \
        .save(buffer, "JPEG")
    (folder / "half.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)) \
        .save(buffer, "PNG")
    (folder / "half.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    Image.new("1", (20000, 10000)).save(folder / "bomb.png")  # tiny file, 200 Mpixel declared
    return {"zero.png": "empty file", "one-byte.png": "cannot read", "text.jpg": "cannot read",
            "half.jpg": "cannot decode", "half.png": "cannot decode",
            "bomb.png": "decompression bomb"}


@pytest.fixture
def damaged_folder(tmp_path):
    make_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=40, size=16)
    expected = write_bad_files(tmp_path / "pets" / "dog")
    return tmp_path / "pets", expected


def test_every_bad_file_is_reported_in_one_error(damaged_folder):
    root, expected = damaged_folder
    with pytest.raises(DataError) as error:
        create_dataset(f"folder:{root}")
    message = str(error.value)
    assert f"{len(expected)} problem(s)" in message
    for name, words in expected.items():
        line = next(line for line in message.splitlines() if f"/dog/{name}:" in line)
        assert words in line, line
    assert "--on-bad-sample skip" in message


def test_training_stops_before_step_one_and_creates_nothing(damaged_folder, tmp_path, capsys):
    root, expected = damaged_folder
    code = main(["train", "--model", "mlp", "--data", f"folder:{root}", "--out",
                 str(tmp_path / "run"), "--epochs", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert all(name in err for name in expected)
    assert not (tmp_path / "run").exists()


def test_skip_leaves_bad_files_out_and_says_which(damaged_folder, tmp_path, capsys):
    root, expected = damaged_folder
    code = main(["train", "--model", "mlp", "--data", f"folder:{root}", "--out",
                 str(tmp_path / "run"), "--epochs", "1", "--on-bad-sample", "skip",
                 "--max-bad-fraction", "0.1", "--log-steps", "0"])
    assert code == 0
    out = capsys.readouterr().out
    assert "skipped 6 bad sample(s) of 86" in out
    assert all(out.count(f"/dog/{name}:") == 1 for name in expected)  # each logged once
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert sum(results["data_sizes"].values()) == 80
    assert any("skipped 6" in note for note in results["data_notes"])


def test_skip_still_stops_above_the_threshold(damaged_folder):
    root, _ = damaged_folder
    with pytest.raises(DataError, match=r"6 of 86 samples .* \(7\.0%\) are bad, more than "
                                        r"--max-bad-fraction 0\.05"):
        create_dataset(f"folder:{root}", on_bad_sample="skip", max_bad_fraction=0.05)


def test_check_data_lists_everything_and_passes_clean_data(damaged_folder, tmp_path, capsys):
    root, expected = damaged_folder
    (root / "empty-class").mkdir()
    assert main(["check-data", f"folder:{root}"]) == 1
    out = capsys.readouterr().out
    assert "7 problem(s)" in out and "empty-class: class folder has no image files" in out
    assert all(name in out for name in expected)
    make_image_folder(tmp_path / "clean", classes=("a", "b"), per_class=3)
    assert main(["check-data", f"folder:{tmp_path / 'clean'}"]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_every_image_mode_becomes_the_datasets_channels(tmp_path):
    make_image_folder(tmp_path, classes=("rgb", "odd"), per_class=2, size=16)
    odd = tmp_path / "odd"
    base = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16))
    base.save(odd / "grey.png")
    base.convert("LA").save(odd / "grey-alpha.png")
    base.convert("P").save(odd / "palette.png")
    rgba = Image.new("RGBA", (16, 16), (255, 0, 0, 0))  # fully transparent red
    rgba.save(odd / "transparent.png")
    base.convert("CMYK").save(odd / "cmyk.jpg")
    Image.fromarray(np.full((16, 16), 65535, dtype=np.uint16)).save(odd / "sixteen-bit.png")
    rotated = Image.new("RGB", (16, 8), "white")
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees to display"
    rotated.save(odd / "exif-rotated.jpg", exif=exif)
    data = create_dataset(f"folder:{tmp_path}", image_size=16)
    assert data.in_channels == 3
    assert sum(len(s) for s in (data.train, data.dev, data.test)) == 11

    from trainlab.data.image_files import to_array

    with Image.open(odd / "sixteen-bit.png") as image:
        assert to_array(image, 1).max() == 255  # scaled, not clipped to 255 from 65535 garbage
    with Image.open(odd / "transparent.png") as image:
        assert to_array(image, 3).max() == 0  # transparent pixels become black
    with Image.open(odd / "exif-rotated.jpg") as image:
        assert to_array(image, 3).shape[:2] == (16, 8)  # displayed orientation
        assert to_array(image, 3).shape[:2] == np.asarray(ImageOps.exif_transpose(image)).shape[:2]


def test_csv_label_problems_each_name_their_row(tmp_path):
    make_csv_dataset(tmp_path, n=20)
    (tmp_path / "classes.txt").write_text("airplane\nship\ntruck\n")
    with open(tmp_path / "trainLabels.csv", "a") as handle:
        handle.write("5,ship\n404,truck\n30,\n31,spaceship\n")
    check = check_dataset(f"csv:{tmp_path}")
    problems, summary = check.problems, check.summary
    assert "checked 24 samples in 3 classes" in summary
    assert problems == [
        f"{tmp_path / 'trainLabels.csv'} row 22: duplicate id '5' (first on row 6)",
        f"{tmp_path / 'trainLabels.csv'} row 23: no image file for id '404' in {tmp_path / 'train'}, "
        f"{tmp_path / 'images'}, {tmp_path}",
        f"{tmp_path / 'trainLabels.csv'} row 24: empty label for '30'",
        f"{tmp_path / 'trainLabels.csv'} row 25: unknown class 'spaceship' (classes.txt lists "
        "airplane, ship, truck)",
    ]


def test_skip_names_every_bad_file_not_only_the_first_fifty(tmp_path, capsys):
    root = make_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=40, size=8)
    for i in range(60):
        (root / "dog" / f"broken-{i:02d}.png").write_bytes(b"")
    run = tmp_path / "run"
    assert main(["train", "--model", "mlp", "--option", "hidden=[8]", "--data", f"folder:{root}",
                 "--out", str(run), "--epochs", "1", "--log-steps", "0",
                 "--on-bad-sample", "skip", "--max-bad-fraction", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "... and 10 more (all in the run directory: bad-samples.txt)" in out
    assert f"all 60 left-out sample(s) are listed in {run / 'bad-samples.txt'}" in out
    listed = (run / "bad-samples.txt").read_text().splitlines()
    assert len(listed) == 60
    assert {line.split(":")[0] for line in listed} == \
        {str(root / "dog" / f"broken-{i:02d}.png") for i in range(60)}
    results = json.loads((run / "results.json").read_text())
    assert results["bad_samples_left_out"] == 60 and results["bad_samples_file"] == "bad-samples.txt"


def test_every_run_says_what_it_loaded(damaged_folder, tmp_path, capsys):
    root, _ = damaged_folder
    assert main(["train", "--model", "mlp", "--data", f"folder:{root}", "--out",
                 str(tmp_path / "run"), "--epochs", "1", "--on-bad-sample", "skip",
                 "--max-bad-fraction", "0.1", "--log-steps", "0"]) == 0
    out = capsys.readouterr().out
    assert f"loaded 80 images (2 classes) from folder {root}: " in out
    assert "6 bad left out" in out
    assert main(["check-data", f"folder:{root}"]) == 1
    assert f"checked 86 samples in 2 classes (cat, dog) from folder {root}" in \
        capsys.readouterr().out


def test_skip_is_offered_only_where_it_applies(tmp_path, capsys):
    root = make_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=6, size=8)
    (root / "fox").mkdir()  # an empty class: leaving out bad files cannot fix it
    with pytest.raises(DataError) as error:
        create_dataset(f"folder:{root}", on_bad_sample="skip")
    message = str(error.value)
    assert "fox: class folder has no image files" in message
    assert "--on-bad-sample skip cannot fix these" in message
    assert "pass --on-bad-sample skip" not in message
    assert main(["check-data", f"folder:{root}"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "1 problem(s); 1 must be fixed before training (--on-bad-sample skip does " \
                   "not fix them)"

    (root / "dog" / "broken.png").write_bytes(b"")  # now also a sample skipping would leave out
    with pytest.raises(DataError) as error:
        create_dataset(f"folder:{root}")
    message = str(error.value)
    assert "1 problem(s) in folder:" in message and "that must be fixed" in message
    assert "Also 1 bad sample(s), which --on-bad-sample skip would leave out" in message
    assert "broken.png: cannot read as an image (empty file" in message


def test_check_data_with_a_missing_data_dir_is_an_error(tmp_path, capsys):
    assert main(["check-data", "digits", "--data-dir", str(tmp_path / "missing")]) == 2
    assert f"--data-dir {tmp_path / 'missing'} is not a folder" in capsys.readouterr().err


def test_files_passed_over_are_all_named(tmp_path, capsys):
    root = make_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=10, size=8)
    for i in range(8):
        (root / "cat" / f"notes-{i}.txt").write_text("not an image")
    assert main(["check-data", f"folder:{root}"]) == 0
    out = capsys.readouterr().out
    assert "passed over 8 file(s) without an image extension" in out
    assert all(f"notes-{i}.txt: passed over" in out for i in range(8))
    run = tmp_path / "run"
    assert main(["train", "--model", "mlp", "--option", "hidden=[8]", "--data", f"folder:{root}",
                 "--out", str(run), "--epochs", "1", "--log-steps", "0"]) == 0
    assert "all 8 passed-over file(s) are listed in" in capsys.readouterr().out
    listed = (run / "bad-samples.txt").read_text().splitlines()
    assert sorted(line.split(":")[0] for line in listed) == \
        sorted(str(root / "cat" / f"notes-{i}.txt") for i in range(8))
    assert json.loads((run / "results.json").read_text())["files_passed_over"] == 8
