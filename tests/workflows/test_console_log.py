"""What training prints: log lines above the progress bar, epochs counted from 1, and with no
terminal one line per epoch with the time left."""
import re

import torch
import torch.nn.functional as F
import tqdm

from fake_data import make_image_folder
from trainlab.cli.main import main
from trainlab.engine import Accuracy, Runner
from trainlab.workflows.console_log import format_duration


def test_no_tty_prints_one_line_per_epoch_with_time_left_counting_from_one(tmp_path, capsys):
    root = make_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=12, size=8)
    assert main(["train", "--model", "mlp", "--option", "hidden=[8]", "--data", f"folder:{root}",
                 "--out", str(tmp_path / "run"), "--epochs", "3", "--batch-size", "4",
                 "--log-steps", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    done = [line for line in lines if " done in " in line]
    assert [line.split(" done in ")[0] for line in done] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all(re.search(r"; about \d+ s left$", line) for line in done[:2]), done
    assert done[-1].endswith("; all epochs done")
    steps = [line for line in lines if ", step " in line]
    assert steps[0].startswith("epoch 1/3, step 1/") and steps[-1].startswith("epoch 3/3, ")
    assert sum(line.startswith("epoch 1/3: dev accuracy") for line in lines) == 1
    assert not any(re.search(r"epoch:? 0/|\[Train\]|\[Evaluate\]", line) for line in lines)


def test_log_lines_go_above_the_progress_bar(tmp_path, monkeypatch, capsys):
    written = []
    monkeypatch.setattr(tqdm.tqdm, "write", classmethod(lambda cls, line, **kw: written.append(line)))
    x, y = torch.randn(24, 4), torch.arange(24) % 2
    batches = [(x[i:i + 6], y[i:i + 6]) for i in range(0, 24, 6)]
    model = torch.nn.Linear(4, 2)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy,
                    Accuracy(), device="cpu", progress=True)
    runner.train(batches, batches, num_epochs=2, log_steps=1, eval_steps=2,
                 save_path=tmp_path / "best.pdparams")
    out = capsys.readouterr().out
    assert "[Train] epoch: 0/2, step: 0/8" in written[0]  # the course's text, through tqdm.write
    assert sum("[Evaluate] dev score" in line for line in written) == 4
    assert "[Train]" not in out.replace("[Train] Training done!", "")  # nothing printed under it


def test_format_duration():
    assert [format_duration(s) for s in (4.4, 75, 7260)] == ["4 s", "1 min 15 s", "2 h 01 min"]
