"""What each CLI command does, as library functions: train, evaluate_run, predict_files."""
from .config import ConfigError, TrainConfig, build_config, read_config_file
from .evaluate import evaluate_run
from .predict import Prediction, predict_files, write_predictions_csv
from .run_dir import RunDirError, load_run_model
from .train import TrainResult, train

__all__ = [
    "TrainConfig", "build_config", "read_config_file", "ConfigError", "train", "TrainResult",
    "evaluate_run", "predict_files", "write_predictions_csv", "Prediction", "load_run_model",
    "RunDirError",
]
