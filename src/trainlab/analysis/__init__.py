"""Analysis of models and runs: plots, image grids, model summaries, run comparisons."""
# plots first: workflows.train imports plot_curves from here, and compare imports workflows
from .grids import (
    draw_samples,
    draw_top_losses,
    most_confidently_wrong,
    most_confused,
    pick_samples,
    plot_samples,
    plot_top_losses,
)
from .plots import draw_confusion_matrix, draw_curves, plot, plot_confusion_matrix, plot_curves
from .summary import LayerSummary, Summary, count_macs, summarize, summarize_model, summarize_run

from .compare import Comparison, compare_runs, draw_comparison, run_record  # isort: skip

__all__ = ["plot", "plot_curves", "plot_confusion_matrix", "draw_curves", "draw_confusion_matrix",
           "plot_samples", "plot_top_losses", "draw_samples", "draw_top_losses", "pick_samples",
           "most_confidently_wrong", "most_confused",
           "summarize", "summarize_model", "summarize_run", "count_macs", "Summary", "LayerSummary",
           "compare_runs", "run_record", "draw_comparison", "Comparison"]
