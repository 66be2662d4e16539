"""`trainlab train` refuses bad settings before creating anything, and says what it trains on."""
import json

import pytest
import yaml
from safetensors.torch import load_file

from fake_data import make_image_folder, tiny_mlp_args, write_table
from trainlab.cli.main import main
from trainlab.models import list_models
from trainlab.workflows.config import RECIPES, ConfigError, TrainConfig, build_config

QUICK = tiny_mlp_args(8)


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    root = tmp_path_factory.mktemp("checks")
    make_image_folder(root / "pets", classes=("cat", "dog"), per_class=20, size=8)
    return ["--data", f"folder:{root / 'pets'}"]


@pytest.mark.parametrize("model,option,message", [
    ("resnet18", "use_residual=maybe", "--option use_residual=maybe: model 'resnet18' needs "
                                       "use_residual to be true or false"),
    ("resnet18", "stem=cifarr", "needs stem to be one of imagenet, cifar"),
    ("mlp", "hidden=abc", "needs hidden to be a list of whole numbers"),
    ("vgg16", "cfg=vgg19", "needs cfg to be one of vgg16, vgg11, seed002"),
])
def test_bad_option_value_is_refused_before_the_run_directory_exists(
        pets, tmp_path, model, option, message, capsys):
    out = tmp_path / "run"
    assert main(["train", *pets, "--model", model, "--option", option, "--epochs", "1",
                 "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_failure_before_training_leaves_no_folder_that_blocks_out(pets, tmp_path, capsys):
    out = tmp_path / "run"
    # The images are 8x8: too small for VGG, which the builder finds only once the data is read.
    assert main(["train", *pets, "--model", "vgg16", "--out", str(out)]) == 2
    assert "--model vgg16: VGG needs images of at least 32 pixels" in capsys.readouterr().err
    assert not out.exists()
    assert main(["train", *pets, *QUICK, "--out", str(out)]) == 0  # the same --out works


def test_limit_train_says_how_large_dev_and_test_are_and_limit_dev_cuts_dev(pets, tmp_path,
                                                                           capsys):
    assert main(["train", *pets, *QUICK, "--limit-train", "10", "--limit-dev", "2",
                 "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "--limit-train 10: training on 10 of 29 training images; dev has 2 and test 8 " \
           "images" in out
    assert "--limit-dev 2: evaluating on 2 of 3 dev images" in out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["data_sizes"] == {"train": 10, "dev": 2, "test": 8}


def test_dev_fraction_zero_trains_without_dev_and_best_is_last(pets, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *pets, *QUICK, "--dev-fraction", "0", "--out", str(run)]) == 0
    assert "no dev split (--dev-fraction 0)" in capsys.readouterr().out
    results = json.loads((run / "results.json").read_text())
    assert results["data_sizes"]["dev"] == 0 and results["best_dev_accuracy"] is None
    best, last = load_file(run / "best.safetensors"), load_file(run / "last.safetensors")
    assert all((best[k] == last[k]).all() for k in last)
    assert main(["evaluate", str(run), "--split", "dev"]) == 2
    assert "has no dev split" in capsys.readouterr().err


def train_row_steps(run) -> list[str]:
    return [line.split(",")[0] for line in (run / "metrics.csv").read_text().splitlines()
            if line.split(",")[2:3] == ["train"]]


def test_drop_last_skips_the_smaller_last_batch_and_settings_are_saved(pets, tmp_path):
    # 29 training images in batches of 8: 3 full batches and one of 5, which --drop-last skips.
    assert main(["train", *pets, *QUICK, "--out", str(tmp_path / "all")]) == 0
    assert train_row_steps(tmp_path / "all") == ["3"]  # the epoch ends at step 3 (0-based)
    run = tmp_path / "dropped"
    assert main(["train", *pets, *QUICK, "--drop-last", "--no-cudnn-benchmark",
                 "--out", str(run)]) == 0
    assert train_row_steps(run) == ["2"]
    config = (run / "config.yaml").read_text()
    assert "drop_last: true" in config and "cudnn_benchmark: false" in config


@pytest.mark.parametrize("recipe", sorted(RECIPES))
@pytest.mark.parametrize("kind", ["cpu", "cuda"])
def test_every_recipe_is_a_valid_configuration(recipe, kind):
    settings = RECIPES[recipe][kind]
    config = TrainConfig(**settings, recipe=recipe).validate()
    assert config.model in list_models() and config.epochs >= 1


def test_recipe_model_options_merge_with_the_flags_and_stay_with_their_model(pets, tmp_path):
    """`--option` changes one of the recipe's model options and keeps the others; another
    `--model` trains without the recipe's model's options (they would not fit it); the recipe's
    test-time flip turns off with --no-test-time-flip."""
    recipe_cpu = RECIPES["fast"]["cpu"]
    assert set(recipe_cpu["model_options"]) == {"widths", "pool_first"}
    run = tmp_path / "merged"
    assert main(["train", "--recipe", "fast", *pets, "--device", "cpu", "--epochs", "1",
                 "--option", "pool_first=false", "--no-test-time-flip", "--log-steps", "0",
                 "--out", str(run)]) == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"] == "fastcnn" and config["test_time_flip"] is False
    assert config["model_options"] == {"widths": recipe_cpu["model_options"]["widths"],
                                       "pool_first": False}
    other = tmp_path / "other-model"
    assert main(["train", "--recipe", "fast", *pets, "--device", "cpu", *QUICK,
                 "--out", str(other)]) == 0
    config = yaml.safe_load((other / "config.yaml").read_text())
    assert config["model"] == "mlp" and config["model_options"] == {"hidden": [8]}
    assert config["test_time_flip"] is True and config["recipe"] == "fast"


def test_a_runs_config_rebuilds_its_model_after_its_recipe_changed(pets, tmp_path):
    """A run saved `recipe: fast` with the model options it trained with (`{}` for the earlier
    recipe, which used fastcnn's defaults). Evaluating it and training again from its config.yaml
    rebuild that model, not one with the recipe's options of today merged in."""
    run = tmp_path / "earlier-recipe"
    assert main(["train", *pets, "--device", "cpu", "--model", "fastcnn", "--epochs", "1",
                 "--batch-size", "8", "--log-steps", "0", "--out", str(run)]) == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model_options"] == {} and config["test_time_flip"] is False
    del config["test_time_flip"]  # as in runs saved before the setting existed
    (run / "config.yaml").write_text(yaml.safe_dump({**config, "recipe": "fast"}))
    assert build_config(run / "config.yaml").test_time_flip is False  # not today's recipe's
    copied = tmp_path / "copied.yaml"  # out of its run directory: the recipe beneath it, but
    copied.write_text((run / "config.yaml").read_text())  # its model options are the whole set
    assert build_config(copied).model_options == {}
    assert main(["evaluate", str(run)]) == 0  # the checkpoint loads into the rebuilt model
    again = tmp_path / "again"
    assert main(["train", "--config", str(run / "config.yaml"), "--out", str(again)]) == 0
    assert yaml.safe_load((again / "config.yaml").read_text())["model_options"] == {}


def test_model_options_of_a_file_meet_the_flags(tmp_path):
    """A file's options for the default model survive `--model` naming that same model; a
    file's options that are not a mapping give way to the flags' (no crash in the merge), and
    without flags get validate()'s message."""
    file = tmp_path / "mine.yaml"
    file.write_text("model_options: {use_residual: false}\n")
    config = build_config(file, model="resnet18", model_options={"stem": "cifar"})
    assert config.model_options == {"use_residual": False, "stem": "cifar"}
    file.write_text("model_options: [stem]\n")
    assert build_config(file, model_options={"stem": "cifar"}).model_options == {"stem": "cifar"}
    with pytest.raises(ConfigError, match="model_options must be a mapping"):
        build_config(file)


def test_a_recipe_for_images_on_a_table_says_which_settings_to_turn_off(tmp_path, capsys):
    path = write_table(tmp_path / "t.csv", n=60, task="classes")  # (label smoothing applies)
    run = tmp_path / "table-run"
    assert main(["train", "--recipe", "fast", "--data", f"table:{path}", "--model", "mlp",
                 "--device", "cpu", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "--augment flip and --test-time-flip apply to images" in err
    assert "(--recipe fast is made for classifying images). Add --augment none --no-test-time-flip\n" in err
    assert not run.exists()
    assert main(["train", "--recipe", "fast", "--data", f"table:{path}", "--model", "mlp",
                 "--device", "cpu", "--augment", "none", "--no-test-time-flip", "--epochs", "1",
                 "--log-steps", "0", "--out", str(run)]) == 0


def test_every_setting_that_does_not_apply_is_named_in_one_message(tmp_path, capsys):
    """On a binary table the recipe's label smoothing does not apply either: one refusal names
    all three settings, and adding what it says trains."""
    path = write_table(tmp_path / "t.csv", n=60, task="binary")
    run = tmp_path / "binary-run"
    argv = ["train", "--recipe", "fast", "--data", f"table:{path}", "--model", "mlp",
            "--device", "cpu", "--epochs", "1", "--log-steps", "0", "--out", str(run)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--label-smoothing 0.1 applies to classification; " \
           f"--data table:{path} is a binary task" in err
    assert "Add --augment none --no-test-time-flip --label-smoothing 0\n" in err
    assert not run.exists()
    assert main([*argv, "--augment", "none", "--no-test-time-flip", "--label-smoothing", "0"]) == 0
    assert (run / "results.json").exists()


def test_a_last_batch_of_one_image_is_left_out_when_batchnorm_cannot_take_it(tmp_path, capsys):
    root = tmp_path / "data"
    make_image_folder(root, classes=("cat", "dog"), per_class=12, size=32)
    # 24 images: 5 held out as test and 2 as dev leave 17 training images; batch 16 leaves 1.
    # ResNet-18's last block works on a 1x1 map of a 32x32 image: one value per channel.
    argv = ["train", "--data", f"folder:{root}", "--model", "resnet18", "--epochs", "1",
            "--batch-size", "16", "--log-steps", "0", "--precision", "fp32"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    sizes = json.loads((tmp_path / "run" / "results.json").read_text())["data_sizes"]
    assert sizes["train"] % 16 == 1, sizes  # the case this test is about
    assert "leave one image for the last batch, which this model's BatchNorm layers cannot " \
           "train on" in out
    assert train_row_steps(tmp_path / "run") == ["0"]  # one batch of 16, the single one left out
    # A model whose BatchNorm layers still see several values per channel keeps every image.
    assert main([*argv[:3], "--model", "fastcnn", *argv[5:], "--out", str(tmp_path / "fast")]) == 0
    assert "leave one image" not in capsys.readouterr().out
    assert train_row_steps(tmp_path / "fast") == ["1"]
