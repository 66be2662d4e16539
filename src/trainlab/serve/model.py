"""The model `trainlab serve` answers with, loaded once, and its model card.

Every prediction goes through the predict workflow (workflows/predict.py): the same loader
(`load_predictor`: a run directory, a bundle folder or an .onnx file), the same image preparation
(`load_for_model`, via `decode_upload`) and the same top-k (`Predictor.top_k`) as `trainlab
predict`, so the page, the API and the command line give the same answer for a file.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data import data_label
from ..workflows.predict import BATCH, Predictor, load_predictor
from .uploads import Upload, decode_upload

# Pictures of the run shown on the model card, when the run has them (titles as shown).
CARD_PICTURES = {"curves.png": "training curves",
                 "confusion-test.png": "confusion matrix (test)",
                 "confusion-test-normalised.png": "confusion matrix, rows as shares (test)"}


class BatchingRanker:
    """`Predictor.top_k` for many threads at once, through one worker thread that scores every
    image waiting in one batch. Requests that arrive while a batch is computed form the next
    one, so a lone request waits for nothing and concurrent ones share forward passes (and do
    not fight over the cores with passes of their own). `make bench-serve` on the shared
    2-core machine, 8 clients: ResNet-18 107-110 requests/s (p99 116-124 ms) against 69-81
    (p99 196 ms) with one locked pass per request; a small CNN 160-162 against 165-170, the
    same within the noise, since HTTP handling costs more than its forward pass."""

    def __init__(self, predictor: Predictor, max_images: int = BATCH):
        self.predictor, self.max_images = predictor, max_images
        self._waiting: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._work, name="trainlab-serve-batches", daemon=True).start()

    def rank(self, images: list, top_k: int) -> list[tuple[list[str], list[float]]]:
        answer: Future = Future()
        self._waiting.put((images, top_k, answer))
        return answer.result()

    def _work(self) -> None:
        while True:
            jobs = [self._waiting.get()]
            count = len(jobs[0][0])
            while count < self.max_images:
                try:
                    jobs.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
                count += len(jobs[-1][0])
            try:
                images = torch.stack([i for job in jobs for i in job[0]])
                ranked = self.predictor.top_k(images, max(top_k for _, top_k, _ in jobs))
            except Exception as error:  # each waiting request gets it (a 500), the worker lives
                for _, _, answer in jobs:
                    answer.set_exception(error)
                continue
            start = 0
            for images, top_k, answer in jobs:  # the top k of the top max-k: the same classes
                answer.set_result([(labels[:top_k], probabilities[:top_k]) for labels, probabilities
                                   in ranked[start:start + len(images)]])
                start += len(images)


@dataclass
class ServedModel:
    predictor: Predictor
    card: dict
    pictures: dict[str, bytes] = field(default_factory=dict)
    ranker: BatchingRanker = field(init=False)

    def __post_init__(self):
        self.ranker = BatchingRanker(self.predictor)

    def predict(self, uploads: list[Upload], top_k: int) -> list[dict]:
        """[{"file": name, "top_k": [{"label", "probability"}, ...]}] for every upload, in
        order; any unusable upload raises UploadError naming it (nothing is half answered).
        Decoding runs in the calling thread; the forward pass is batched with other requests'."""
        images = [decode_upload(upload, self.predictor.preprocessing) for upload in uploads]
        ranked = self.ranker.rank(images, top_k)
        return [{"file": upload.name,
                 "top_k": [{"label": label, "probability": probability}
                           for label, probability in zip(labels, probabilities)]}
                for upload, (labels, probabilities) in zip(uploads, ranked)]


def load_served_model(source: str | Path, checkpoint: str | None = None,
                      device="auto") -> ServedModel:
    """A run directory (its best, last or given checkpoint), a bundle folder or an .onnx file
    (`load_predictor`, the loader `trainlab predict` uses) ready to answer, with its model card."""
    predictor = load_predictor(source, checkpoint, device)
    folder = predictor.source if predictor.source.is_dir() else predictor.source.parent
    return ServedModel(predictor, model_card(predictor, folder),
                       {name: (folder / name).read_bytes() for name in CARD_PICTURES
                        if (folder / name).is_file()})


def model_card(predictor: Predictor, folder: Path) -> dict:
    """What the page shows beside the predictions: the model, its data, how good it is. A run
    directory has its results.json; a bundle or ONNX file has its model.json."""
    results_path = folder / "results.json"
    try:
        results = json.loads(results_path.read_text())
    except (OSError, ValueError):  # an unfinished or older run, or an export: say what is known
        results = {}
    info = predictor.info
    finished = results_path if results else None
    stamp_file = finished or next((folder / name for name in ("config.yaml", "model.json")
                                   if (folder / name).is_file()), predictor.source)
    trained = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp_file.stat().st_mtime))
    parameters = (sum(p.numel() for p in predictor.model.parameters())
                  if isinstance(predictor.model, torch.nn.Module) else info.get("parameters"))
    return {
        "run": folder.name if predictor.kind == "run" else predictor.source.name,
        "source": predictor.kind,
        "model": info["model"],
        "model_options": info.get("model_options", {}),
        "data": data_label(info.get("data")),  # not where the files were
        "classes": predictor.class_names,
        "input": {"channels": predictor.preprocessing["channels"],
                  "size": predictor.preprocessing["image_size"]},
        "test_accuracy": results.get("test_accuracy"),
        "best_dev_accuracy": results.get("best_dev_accuracy"),
        "parameters": parameters,
        "epochs": results.get("epochs"),
        "trained": trained if finished or predictor.kind != "run"
        else f"unfinished (started {trained})",
        "test_time_flip": predictor.test_time_flip,
        "trainlab_version": info.get("trainlab_version"),
    }
