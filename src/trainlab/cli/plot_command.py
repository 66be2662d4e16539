"""`trainlab plot RUN [--what ...] [--split ...]`: parsing only; `workflows.plot_run` draws."""
from __future__ import annotations

from ..workflows import PICTURES, plot_run
from ..workflows.evaluate import SPLITS

# evaluate's and plot's --data
MOVED_DATA_HELP = ("where the run's data is now, if it moved or the run came from another "
                   "machine (e.g. folder:/new/place); data-split.json checks that it holds the "
                   "images the run was trained and tested on")


def add_plot_parser(commands) -> None:
    plot = commands.add_parser(
        "plot", help="draw a run's pictures (again): curves, confusion matrix, sample images, "
        "most confidently wrong images",
        description="Write a run's pictures into its directory: curves.png (from metrics.csv); "
        "confusion-SPLIT.png, confusion-SPLIT-normalised.png and confused-pairs-SPLIT.csv (from "
        "evaluation-SPLIT.json, so evaluate first); samples.png (training images with their "
        "class names); errors-SPLIT.png (the most confidently wrong images, with true and "
        "predicted class and the probability; runs the checkpoint on the split).")
    plot.add_argument("run", help="run directory")
    plot.add_argument("--what", default="all", choices=("all", *PICTURES),
                      help="which pictures (default: all; all skips, saying why, what has no "
                      "source yet)")
    plot.add_argument("--split", default="test", choices=SPLITS,
                      help="the evaluated split for confusion and errors (default: test)")
    plot.add_argument("--checkpoint", default=None, metavar="best|last|FILE",
                      help="for confusion and errors: best (default), last, or the path of a "
                      "checkpoint of this run (its files are named SPLIT-last or SPLIT-file-STEM)")
    plot.add_argument("--allow-changed-data", action="store_true",
                      help="for errors: use the data as it is now even if it no longer holds "
                      "the images the run recorded (as for evaluate)")
    plot.add_argument("--data", default=None, metavar="SPEC",
                      help="for samples and errors: " + MOVED_DATA_HELP)
    plot.add_argument("--device", default="auto", help="for errors (default: auto)")


def command_plot(args) -> int:
    plot_run(args.run, what=args.what, split=args.split, checkpoint=args.checkpoint,
             device=args.device, allow_changed_data=args.allow_changed_data, data=args.data)
    return 0
