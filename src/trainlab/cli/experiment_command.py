"""`trainlab experiment NAME ...` and `--list`: parsing only; trainlab.experiments does the work."""
from __future__ import annotations

import sys

from ..data import DataError
from ..engine import CheckpointError, DeviceError, WriteError
from ..experiments import ExperimentError, SettingFailed, list_experiments, run_experiment
from ..workflows import ConfigError, RunDirError, TrainingInterrupted, TrainingStopped

# Errors whose message is the whole story (the CLI's usual one-sentence errors, exit code 2).
EXPECTED = (DataError, ConfigError, CheckpointError, RunDirError, DeviceError, WriteError)

DESCRIPTION = (
    "Train every setting of one of the seed documents' experiments for each seed, each as a "
    "normal run directory (OUT/<setting>/seed-<n>), then write OUT/report.md and OUT/report.png:"
    " test accuracy, parameters, MACs and training time as mean ± std over seeds, the curves "
    "overlaid, and the figure the seed document reports beside ours. Rerun into the same --out "
    "and finished runs are reused, an interrupted one resumes. Default data: MNIST when its "
    "files are found, else Fashion-MNIST (Debian's package); --quick uses scikit-learn's "
    "digits. Time, each default on an idle 2-core CPU: 39 s (activations) to 277 s (models); "
    "README has the subsets each experiment uses.")


def add_experiment_parser(commands) -> None:
    experiment = commands.add_parser(
        "experiment", help="run one of the seed documents' experiments and write a report "
        "(--list names them)", description=DESCRIPTION)
    experiment.add_argument("name", nargs="?", metavar="NAME",
                            help="experiment: " + ", ".join(e.name for e in list_experiments()))
    experiment.add_argument("--list", action="store_true", help="name the experiments and stop")
    experiment.add_argument("--data", default=None,
                            help="data set (a name from `trainlab datasets`); default: mnist if "
                            "its files are found, else fashion-mnist; digits with --quick")
    experiment.add_argument("--data-dir", default="data", help="where data files live")
    experiment.add_argument("--seeds", type=int, default=3, metavar="N",
                            help="train each setting with seeds 1..N (default: 3)")
    experiment.add_argument("--epochs", type=int, default=None, metavar="E",
                            help="epochs per run (default: the experiment's own)")
    experiment.add_argument("--out", default=None, metavar="DIR",
                            help="where the runs and the report go (default: "
                            "runs/experiment-NAME)")
    experiment.add_argument("--quick", action="store_true",
                            help="small subsets and one epoch: a first look in under a minute")


def command_experiment(args) -> int:
    if args.list:
        for experiment in list_experiments():
            settings = "; ".join(s.name for s in experiment.settings)
            print(f"{experiment.name:<16} {experiment.title} ({settings})")
        return 0
    try:
        if not args.name:
            raise ExperimentError("name an experiment, e.g. trainlab experiment residual "
                                  "(trainlab experiment --list names them all)")
        run_experiment(args.name, data=args.data, seeds=args.seeds, epochs=args.epochs,
                       out=args.out, quick=args.quick, data_dir=args.data_dir)
    except TrainingInterrupted as error:  # the run saved its state; the rerun picks it up
        print(f"interrupted at step {error.step} of {error.run_dir}; run the same `trainlab "
              "experiment` command again to continue (finished runs are reused, this one "
              "resumes)", file=sys.stderr)
        return error.exit_code
    except ExperimentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except SettingFailed as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        if isinstance(error.cause, TrainingStopped):  # as `trainlab train` exits
            return 3
        return 2 if isinstance(error.cause, EXPECTED) else 1
    return 0
