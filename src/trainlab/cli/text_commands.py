"""`trainlab predict RUN --text WORD`, `trainlab predict RUN --table ROWS.csv` and `trainlab
make-names OUT`: argument parsing for the table and sequence commands (the work is in
workflows/predict_text.py, workflows/predict_table.py and data/names_generator.py)."""
from __future__ import annotations

import argparse

from ..data.names_generator import LANGUAGES, write_names_file
from ..workflows import ConfigError
from ..workflows.predict_table import predict_table
from ..workflows.predict_text import predict_texts


def add_text_argument(predict: argparse.ArgumentParser) -> None:
    predict.add_argument("--text", action="append", default=None, metavar="TEXT",
                         help="predict for this text with a names or hello run (repeatable), "
                         "e.g. --text Nakamura: the top-k labels")
    predict.add_argument("--table", default=None, metavar="ROWS.csv",
                         help="predict every row of a CSV file (.gz too) with a table run; "
                         "columns are matched by the header names it was trained on")


def command_predict_table(args) -> int:
    if args.inputs:
        raise ConfigError("give either files to predict or --table, not both")
    for p in predict_table(args.run, args.table, top_k=args.top_k, checkpoint=args.checkpoint,
                           device=args.device):
        answer = ", ".join(f"{name} {value:.3f}" for name, value in zip(p.classes, p.values)) \
            if p.classes else ", ".join(f"{value:.6g}" for value in p.values)
        print(f"row {p.row}: {answer}")
    return 0


def command_predict_text(args) -> int:
    if args.inputs:
        raise ConfigError("give either files to predict or --text, not both")
    for p in predict_texts(args.run, args.text, top_k=args.top_k, checkpoint=args.checkpoint,
                           device=args.device):
        print(f"{p.text}: " + ", ".join(f"{name} {prob:.3f}"
                                        for name, prob in zip(p.classes, p.probabilities)))
    return 0


def add_make_names_parser(commands) -> None:
    parser = commands.add_parser(
        "make-names", help="write a name,label CSV of surnames in "
        f"{len(LANGUAGES)} languages from Faker's lists (offline), for --data names:FILE")
    parser.add_argument("out", metavar="OUT.csv[.gz]")
    parser.add_argument("--per-label", type=int, default=300, metavar="N",
                        help="at most N names per language (default: 300)")
    parser.add_argument("--seed", type=int, default=0, help="which names are drawn (default: 0)")


def command_make_names(args) -> int:
    if args.per_label < 1:
        raise ConfigError(f"--per-label must be at least 1, got {args.per_label}")
    rows = write_names_file(args.out, args.per_label, args.seed)
    labels = sorted({label for _, label in rows})
    print(f"wrote {len(rows)} names in {len(labels)} languages ({', '.join(labels)}) to "
          f"{args.out}")
    return 0


HANDLERS = {"make-names": command_make_names}
