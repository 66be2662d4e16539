"""Every data source on generated files in its real on-disk format."""
import pytest
import torch
from PIL import Image

from fake_data import make_cifar_batches, make_csv_dataset, make_idx_dataset, make_image_folder
from trainlab.data import DataError, Split, create_dataset, list_datasets, torchvision_sets
from trainlab.data._registry import carve


def test_registry_lists_all_sources():
    names = {entry.name for entry in list_datasets()}
    assert names >= {"digits", "mnist", "fashion-mnist", "cifar10", "folder", "csv"}


def test_digits_is_embedded_and_upscaled():
    data = create_dataset("digits")
    assert data.image_size == (32, 32) and data.in_channels == 1 and data.num_classes == 10
    assert len(data.train) + len(data.dev) + len(data.test) == 1797
    assert data.train.images.dtype == torch.uint8 and data.train.images.max() > 200


def test_carved_splits_are_fixed_and_disjoint():
    a, b = create_dataset("digits"), create_dataset("digits", dev_fraction=0.2)
    assert torch.equal(a.test.images, b.test.images)  # the test split ignores dev_fraction
    assert len(b.dev) > len(a.dev)
    # Each image tagged with its index: the carved parts must not share one.
    tagged = Split(torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1), torch.arange(100))
    kept, held = carve(tagged, 0.2)
    assert (len(kept), len(held)) == (80, 20)
    assert set(kept.labels.tolist()).isdisjoint(held.labels.tolist())
    assert torch.equal(carve(tagged, 0.2)[1].labels, held.labels)  # same seed, same split


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_torchvision_layout(tmp_path, compress):
    make_idx_dataset(tmp_path / "MNIST" / "raw", compress=compress)
    data = create_dataset("mnist", data_dir=tmp_path)
    assert (len(data.train) + len(data.dev), len(data.test)) == (60, 20)
    assert data.image_size == (28, 28) and data.mean == (0.1307,)


def test_fashion_mnist_files_in_data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision_sets, "DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    make_idx_dataset(tmp_path)
    data = create_dataset("fashion-mnist", data_dir=tmp_path, limit_train=10)
    assert len(data.train) == 10 and data.class_names[9] == "Ankle boot"


def test_missing_files_error_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision_sets, "DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    with pytest.raises(DataError) as error:
        create_dataset("fashion-mnist", data_dir=tmp_path)
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message and "--download" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message


def test_cifar10_python_batches(tmp_path):
    make_cifar_batches(tmp_path, per_batch=6)
    data = create_dataset("cifar10", data_dir=tmp_path)
    assert len(data.train) + len(data.dev) == 30 and len(data.test) == 6
    assert data.in_channels == 3 and data.image_size == (32, 32)
    assert data.class_names[0] == "airplane"


def test_cifar10_missing_lists_files(tmp_path):
    with pytest.raises(DataError, match=r"data_batch_1.*test_batch"):
        create_dataset("cifar10", data_dir=tmp_path)


def test_folder_without_splits(tmp_path):
    make_image_folder(tmp_path, per_class=10)
    data = create_dataset(f"folder:{tmp_path}")
    assert data.class_names == ["cat", "dog", "fox"]
    assert len(data.train) + len(data.dev) + len(data.test) == 30
    assert data.in_channels == 3 and data.image_size == (16, 16)
    assert any("held out" in note for note in data.notes)


def test_folder_with_train_val_test(tmp_path):
    for split, n in (("train", 6), ("val", 2), ("test", 3)):
        make_image_folder(tmp_path / split, classes=("a", "b"), per_class=n, mode="L")
    data = create_dataset(f"folder:{tmp_path}")
    assert (len(data.train), len(data.dev), len(data.test)) == (12, 4, 6)
    assert data.in_channels == 1


def test_folder_mixed_sizes_are_resized_with_a_note(tmp_path):
    make_image_folder(tmp_path, classes=("a", "b"), per_class=4, size=16)
    Image.new("RGB", (40, 30), "red").save(tmp_path / "a" / "big.png")
    data = create_dataset(f"folder:{tmp_path}")
    assert data.image_size == (64, 64)
    assert any("different sizes" in note for note in data.notes)
    assert create_dataset(f"folder:{tmp_path}", image_size=24).image_size == (24, 24)


def test_folder_reports_every_bad_file(tmp_path):
    make_image_folder(tmp_path, classes=("a", "b"), per_class=3)
    (tmp_path / "a" / "empty.png").write_bytes(b"")
    (tmp_path / "b" / "text.jpg").write_text("not an image")
    with pytest.raises(DataError) as error:
        create_dataset(f"folder:{tmp_path}")
    message = str(error.value)
    assert "2 problem(s)" in message
    assert "empty.png: " in message and "text.jpg: " in message


def test_folder_empty_class_is_an_error(tmp_path):
    make_image_folder(tmp_path, classes=("a", "b"), per_class=3)
    (tmp_path / "c").mkdir()
    with pytest.raises(DataError, match="c: class folder has no image files"):
        create_dataset(f"folder:{tmp_path}")


def test_csv_seed000_layout_with_names(tmp_path):
    make_csv_dataset(tmp_path, n=30)
    data = create_dataset(f"csv:{tmp_path}")
    assert data.class_names == ["airplane", "ship", "truck"]
    assert len(data.train) + len(data.dev) + len(data.test) == 30


def test_csv_integer_labels_keep_their_numbers(tmp_path):
    make_csv_dataset(tmp_path, n=12, integer_labels=True)
    data = create_dataset(f"csv:{tmp_path / 'trainLabels.csv'}")
    assert data.class_names == ["0", "1", "2"]


def test_csv_without_a_header_line_loses_no_row(tmp_path):
    make_csv_dataset(tmp_path, n=12)
    labels = tmp_path / "trainLabels.csv"
    labels.write_text(labels.read_text().split("\n", 1)[1])  # "1,ship" is now the first line
    data = create_dataset(f"csv:{labels}")
    assert len(data.train) + len(data.dev) + len(data.test) == 12
    assert any("has no header line: its first line names an image file ('1')" in note
               for note in data.notes)


def test_csv_class_numbers_from_one_make_no_empty_class(tmp_path):
    make_csv_dataset(tmp_path, n=12, integer_labels=True)
    labels = tmp_path / "trainLabels.csv"
    lines = labels.read_text().splitlines()
    labels.write_text("\n".join([lines[0]] + [f"{line.split(',')[0]},0{int(line.split(',')[1]) + 1}"
                                              for line in lines[1:]]) + "\n")  # 01, 02, 03
    data = create_dataset(f"csv:{labels}")
    assert data.class_names == ["1", "2", "3"]
    assert sorted(set(data.train.labels.tolist())) == [0, 1, 2]
    assert any("the class numbers are 1, 2, 3, not 0..2" in note for note in data.notes)


def test_csv_class_listed_without_images_and_a_lone_label_get_notes(tmp_path):
    make_csv_dataset(tmp_path, n=45)
    (tmp_path / "classes.txt").write_text("airplane\nship\ntruck\nboat\n")
    data = create_dataset(f"csv:{tmp_path}")
    assert data.class_names == ["airplane", "ship", "truck", "boat"]
    assert any("classes.txt lists 1 class(es) with no image in trainLabels.csv: boat; the model "
               "keeps an output for each that no image trains" in note for note in data.notes)
    (tmp_path / "classes.txt").unlink()
    labels = tmp_path / "trainLabels.csv"
    labels.write_text(labels.read_text().replace("\n4,ship\n", "\n4,²\n"))  # isdigit(), not int()
    assert "²" in create_dataset(f"csv:{tmp_path}").class_names
    labels.write_text(labels.read_text().replace("\n4,²\n", "\n4,ship\n"))
    labels = tmp_path / "trainLabels.csv"
    labels.write_text(labels.read_text().replace("\n7,ship\n", "\n7,shipp\n"))
    data = create_dataset(f"csv:{tmp_path}")
    assert data.class_names == ["airplane", "ship", "shipp", "truck"]
    assert any("trainLabels.csv row 8: class 'shipp' has this one image while most classes have "
               "10 or more; a typo in the label?" in note for note in data.notes)


def test_csv_label_column_first_takes_the_other_as_the_id(tmp_path):
    make_csv_dataset(tmp_path, n=12)
    labels = tmp_path / "trainLabels.csv"
    swapped = [",".join(reversed(line.split(","))) for line in labels.read_text().splitlines()]
    labels.write_text("\n".join(["label,file", *swapped[1:]]) + "\n")
    data = create_dataset(f"csv:{labels}")
    assert data.class_names == ["airplane", "ship", "truck"]
    assert len(data.train) + len(data.dev) + len(data.test) == 12


def test_csv_problems_name_rows(tmp_path):
    make_csv_dataset(tmp_path, n=6)
    with open(tmp_path / "trainLabels.csv", "a") as handle:
        handle.write("3,ship\n99,ship\n7,\n")
    with pytest.raises(DataError) as error:
        create_dataset(f"csv:{tmp_path}")
    message = str(error.value)
    assert "row 8: duplicate id '3' (first on row 4)" in message
    assert "row 9: no image file for id '99'" in message
    assert "row 10: empty label" in message


def test_unknown_dataset_lists_choices():
    with pytest.raises(DataError, match=r"available: .*fashion-mnist"):
        create_dataset("imagenet")
    with pytest.raises(DataError, match="needs a path"):
        create_dataset("folder")
