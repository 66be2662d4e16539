"""The model `trainlab serve` answers with, loaded once, and its model card.

Every prediction goes through the predict workflow (workflows/predict.py): the same image
preparation (`load_for_model`, via `decode_upload`) and the same top-k (`rank_classes`) as
`trainlab predict`, so the page, the API and the command line give the same answer for a file.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import resolve_device
from ..workflows.predict import rank_classes
from ..workflows.run_dir import load_run_model, resolve_run_dir
from .uploads import Upload, decode_upload

# Pictures of the run shown on the model card, when the run has them (titles as shown).
CARD_PICTURES = {"curves.png": "training curves",
                 "confusion-test.png": "confusion matrix (test)",
                 "confusion-test-normalised.png": "confusion matrix, rows as shares (test)"}


@dataclass
class ServedModel:
    model: object
    meta: dict
    device: object
    card: dict
    pictures: dict[str, bytes] = field(default_factory=dict)
    # One forward pass at a time: on a CPU, concurrent passes would only fight over the same
    # cores (each already uses all of them); decoding uploads still runs concurrently.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def predict(self, uploads: list[Upload], top_k: int) -> list[dict]:
        """[{"file": name, "top_k": [{"label", "probability"}, ...]}] for every upload, in
        order; any unusable upload raises UploadError naming it (nothing is half answered)."""
        images = [decode_upload(upload, self.meta["preprocessing"]) for upload in uploads]
        with self.lock:
            ranked = rank_classes(self.model, self.meta, images, top_k, self.device)
        return [{"file": upload.name,
                 "top_k": [{"label": label, "probability": probability}
                           for label, probability in zip(labels, probabilities)]}
                for upload, (labels, probabilities) in zip(uploads, ranked)]


def load_served_model(run: str | Path, checkpoint: str | None = None,
                      device="auto") -> ServedModel:
    """The run's checkpoint (best, last or a path) ready to answer, with its model card."""
    device = resolve_device(device)
    run_dir = resolve_run_dir(run)
    # The one place serve loads a model (a run directory today); predict's loader goes here.
    model, meta = load_run_model(run_dir, checkpoint, device=device)
    parameters = sum(p.numel() for p in model.parameters())
    return ServedModel(model, meta, device, model_card(run_dir, meta, parameters),
                       {name: (run_dir / name).read_bytes() for name in CARD_PICTURES
                        if (run_dir / name).is_file()})


def model_card(run_dir: Path, meta: dict, parameters: int) -> dict:
    """What the page shows beside the predictions: the model, its data, how good it is."""
    results_path = run_dir / "results.json"
    try:
        results = json.loads(results_path.read_text())
    except (OSError, ValueError):  # an unfinished or older run: the card says what it knows
        results = {}
    finished = results_path if results else None
    trained = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(
        (finished or run_dir / "config.yaml").stat().st_mtime))
    return {
        "run": run_dir.name,
        "model": meta["model"],
        "model_options": meta.get("model_options", {}),
        "data": meta.get("data"),
        "classes": meta["class_names"],
        "input": {"channels": meta["in_channels"], "size": meta["input_size"]},
        "test_accuracy": results.get("test_accuracy"),
        "best_dev_accuracy": results.get("best_dev_accuracy"),
        "parameters": parameters,
        "epochs": results.get("epochs"),
        "trained": trained if finished else f"unfinished (started {trained})",
        "test_time_flip": bool(meta.get("test_time_flip")),
        "trainlab_version": meta.get("trainlab_version"),
    }
