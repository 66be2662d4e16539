"""In-process checks of the app: uploads stay in memory; inference runs off the event loop."""
import asyncio
import tempfile
import time

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import png_bytes
from trainlab.serve.app import create_app
from trainlab.serve.model import load_served_model


def no_temporary_files(*args, **kwargs):
    raise AssertionError("an upload was about to be written to a temporary file")


def ask(app, *requests):
    async def send():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(request(client) for request in requests))
    return asyncio.run(send())


def test_a_large_upload_is_never_written_to_disk(served_run, monkeypatch):
    import starlette.formparsers

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_temporary_files)
    # Starlette's own form parser spools files over 1 MB to disk; serve must not use it.
    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", no_temporary_files)
    served = load_served_model(served_run[0])
    noise = np.random.default_rng(0).integers(0, 255, (720, 720, 3), dtype=np.uint8)
    data = png_bytes(Image.fromarray(noise))
    assert len(data) > 1_400_000  # above Starlette's 1 MB spooling threshold
    app = create_app(served, max_upload_bytes=5_000_000)
    (response,) = ask(app, lambda client: client.post("/api/predict", files={
        "files": ("noise.png", data)}))
    assert response.status_code == 200, response.text
    assert response.json()[0]["file"] == "noise.png" and len(response.json()[0]["top_k"]) == 3


def test_predictions_run_off_the_event_loop(served_run):
    served = load_served_model(served_run[0])
    real_predict, finished = served.predict, {}

    def slow_predict(uploads, top_k):  # a model that takes a second to answer
        time.sleep(1.0)
        finished["predict"] = time.monotonic()
        return real_predict(uploads, top_k)

    served.predict = slow_predict
    image = (served_run[1] / "fox" / "0.png").read_bytes()

    async def predict(client):
        return await client.post("/api/predict", files={"files": ("fox.png", image)})

    async def health(client):
        await asyncio.sleep(0.2)  # while the prediction is being computed
        response = await client.get("/health")
        finished["health"] = time.monotonic()
        return response

    predicted, healthy = ask(create_app(served, 1_000_000), predict, health)
    assert predicted.status_code == 200 and healthy.status_code == 200
    assert finished["health"] < finished["predict"]  # the loop answered meanwhile


def test_batched_forward_passes_give_each_request_its_own_top_k(served_run):
    from concurrent.futures import ThreadPoolExecutor

    from trainlab.serve.model import BatchingRanker
    from trainlab.workflows.predict import load_for_model

    served = load_served_model(served_run[0])
    paths = sorted(served_run[1].rglob("*.png"))[:12]
    images = [load_for_model(p, served.predictor.preprocessing) for p in paths]
    ranker = BatchingRanker(served.predictor, max_images=5)
    jobs = [(images[i:i + 1 + i % 3], 1 + i % 3) for i in range(len(images))]  # 1-3 images, k 1-3
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda job: ranker.rank(*job), jobs))
    for (job_images, top_k), answer in zip(jobs, answers):
        alone = served.predictor.top_k(torch.stack(job_images), top_k)
        assert [labels for labels, _ in answer] == [labels for labels, _ in alone]
        for (_, ours), (_, theirs) in zip(answer, alone):
            assert ours == pytest.approx(theirs, abs=1e-6)


@pytest.mark.parametrize("format", ["bundle", "onnx"])
def test_an_exported_model_is_served_with_the_runs_answers(served_run, tmp_path, format):
    from trainlab.workflows.export import export_run
    from trainlab.workflows.predict import load_for_model

    run = load_served_model(served_run[0])
    out = tmp_path / ("model.onnx" if format == "onnx" else "bundle")
    exported = export_run(served_run[0], format, out=out, echo=lambda *a: None)
    served = load_served_model(exported.path)
    assert served.predictor.kind == format and served.card["classes"] == run.card["classes"]
    assert served.card["model"] == run.card["model"] and served.card["source"] == format
    paths = sorted(served_run[1].rglob("*.png"))[:6]
    images = torch.stack([load_for_model(p, run.predictor.preprocessing) for p in paths])
    ours, theirs = served.predictor.top_k(images, 2), run.predictor.top_k(images, 2)
    assert [labels for labels, _ in ours] == [labels for labels, _ in theirs]
    for (_, a), (_, b) in zip(ours, theirs):
        assert a == pytest.approx(b, abs=1e-5)
