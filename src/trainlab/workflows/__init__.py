"""What each CLI command does, as library functions: train, evaluate_run, predict_files
(load_predictor), plot_run, export_run (load_bundle)."""
from .bundle import load_bundle
from .config import RECIPES, ConfigError, TrainConfig, build_config, read_config_file
from .evaluate import evaluate_run
from .export import ExportError, ExportResult, export_run
from .interrupt import TrainingInterrupted, raise_terminated
from .plot import PICTURES, plot_run
from .predict import Prediction, Predictor, load_predictor, predict_files, write_predictions_csv
from .run_dir import RunDirError, current_run_dir, forget_current_run_dir, load_run_model, resolve_run_dir
from .train import TrainingStopped, TrainResult, process_batch_size, resume, train

__all__ = [
    "TrainConfig", "RECIPES", "build_config", "read_config_file", "ConfigError",
    "train", "resume", "TrainingInterrupted", "raise_terminated", "TrainResult", "TrainingStopped",
    "evaluate_run", "predict_files", "write_predictions_csv", "Prediction",
    "load_run_model", "RunDirError", "resolve_run_dir", "process_batch_size", "current_run_dir",
    "forget_current_run_dir", "plot_run", "PICTURES", "load_predictor", "Predictor",
    "export_run", "ExportError", "ExportResult", "load_bundle",
]
