"""Analysis of runs: plots, image grids (and later summaries, comparisons, reports)."""
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

__all__ = ["plot", "plot_curves", "plot_confusion_matrix", "draw_curves", "draw_confusion_matrix",
           "plot_samples", "plot_top_losses", "draw_samples", "draw_top_losses", "pick_samples",
           "most_confidently_wrong", "most_confused"]
