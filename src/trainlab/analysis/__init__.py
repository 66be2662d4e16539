"""Analysis of runs: plots (and later summaries, comparisons, reports)."""
from .plots import draw_confusion_matrix, draw_curves, plot, plot_confusion_matrix, plot_curves

__all__ = ["plot", "plot_curves", "plot_confusion_matrix", "draw_curves", "draw_confusion_matrix"]
