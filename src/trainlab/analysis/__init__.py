"""Analysis of models and runs: plots, model summaries (later comparisons, reports)."""
from .plots import draw_confusion_matrix, draw_curves, plot, plot_confusion_matrix, plot_curves
from .summary import LayerSummary, Summary, count_macs, summarize, summarize_model, summarize_run

__all__ = ["plot", "plot_curves", "plot_confusion_matrix", "draw_curves", "draw_confusion_matrix",
           "summarize", "summarize_model", "summarize_run", "count_macs", "Summary", "LayerSummary"]
