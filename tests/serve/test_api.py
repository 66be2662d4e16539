"""`trainlab serve` over real HTTP: the API against `trainlab predict`, every bad input, auth."""
import csv
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

from conftest import png_bytes
from trainlab.cli.main import main
from trainlab.serve.server import host_warning, is_loopback


def post(server, files, top_k=None, **kwargs):
    params = {"top_k": top_k} if top_k is not None else None
    return httpx.post(server.url + "/api/predict", params=params, timeout=60,
                      files=[("files", item) for item in files], **kwargs)


def test_predictions_are_those_of_trainlab_predict(served_run, server, tmp_path, capsys):
    run, pets = served_run
    Image.new("L", (50, 40), 128).save(tmp_path / "grey-big.png")  # other size and channels
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 30, 3), dtype=np.uint8)) \
        .save(tmp_path / "noise.jpg", quality=90)
    paths = [pets / "cat" / "0.png", pets / "dog" / "5.png", pets / "fox" / "11.png",
             tmp_path / "grey-big.png", tmp_path / "noise.jpg"]
    assert main(["predict", str(run), *map(str, paths), "--top-k", "2", "--csv",
                 str(tmp_path / "cli.csv")]) == 0
    with open(tmp_path / "cli.csv", newline="") as handle:
        expected = list(csv.DictReader(handle))

    answer = post(server, [(p.name, p.read_bytes()) for p in paths], top_k=2)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [item["file"] for item in body] == [p.name for p in paths]  # in the order sent
    for item, row in zip(body, expected):
        assert [c["label"] for c in item["top_k"]] == [row["class_1"], row["class_2"]]
        assert [c["probability"] for c in item["top_k"]] == pytest.approx(
            [float(row["probability_1"]), float(row["probability_2"])], abs=2e-6)


def test_default_top_k_is_the_servers_and_is_capped_at_the_class_count(server, served_run):
    image = (served_run[1] / "cat" / "1.png").read_bytes()
    assert len(post(server, [("a.png", image)]).json()[0]["top_k"]) == 2  # --top-k 2
    assert len(post(server, [("a.png", image)], top_k=50).json()[0]["top_k"]) == 3


def test_page_health_model_card_pictures_and_docs(server):
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and 'id="file-input"' in page.text
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
    card = httpx.get(server.url + "/api/model").json()
    assert card["model"] == "mlp" and card["classes"] == ["cat", "dog", "fox"]
    assert card["parameters"] > 0 and 0 <= card["test_accuracy"] <= 1
    assert card["trained"][:2] == "20" and card["max_upload_mb"] == 1.0
    assert [p["url"] for p in card["pictures"]] == [
        "/api/pictures/curves.png", "/api/pictures/confusion-test.png",
        "/api/pictures/confusion-test-normalised.png"]
    for picture in card["pictures"]:
        response = httpx.get(server.url + picture["url"])
        assert response.status_code == 200 and response.content[:4] == b"\x89PNG"
    assert httpx.get(server.url + "/api/pictures/config.yaml").status_code == 404
    assert httpx.get(server.url + "/docs").status_code == 200
    schema = httpx.get(server.url + "/openapi.json").json()
    assert "multipart/form-data" in schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]


def truncated_png():
    full = png_bytes(Image.fromarray(np.random.default_rng(1).integers(
        0, 255, (64, 64, 3), dtype=np.uint8)))
    return full[: len(full) // 2]


def over_the_limit():  # a real image, padded past --max-upload-mb 1
    return png_bytes(Image.new("RGB", (8, 8))) + os.urandom(1_100_000)


def bomb():  # 10,000 x 10,000 pixels in about 12 kB of PNG
    return png_bytes(Image.new("1", (10_000, 10_000)))


BAD_UPLOADS = {
    "not-an-image": ("notes.txt", lambda: b"just some text\n", 415, "notes.txt: not an image"),
    "truncated": ("cut.png", truncated_png, 422, "cut.png: the PNG image cannot be decoded"),
    "decompression-bomb": ("bomb.png", bomb, 413, "bomb.png: 10000 x 10000 pixels"),
    "empty": ("empty.png", lambda: b"", 400, "empty.png: the file is empty"),
    "over-max-upload": ("big.png", over_the_limit, 413, "big.png: larger than the limit of 1.0 MB"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_upload_is_a_4xx_naming_the_problem(server, case, served_run):
    name, make, status, message = BAD_UPLOADS[case]
    good = ("good.png", (served_run[1] / "dog" / "0.png").read_bytes())
    response = post(server, [good, (name, make())])  # one bad file refuses the request
    assert response.status_code == status, response.text
    assert response.json()["error"].startswith(message)
    assert server.alive()


@pytest.mark.parametrize("case, request_kwargs, status, message", [
    ("no-files", {"files": [("note", (None, "x"))]}, 400, "form field 'note' is not a file"),
    ("empty-form", {"headers": {"content-type": "multipart/form-data; boundary=x"},
                    "content": b"--x--\r\n"}, 400, "the request holds no files"),
    ("not-multipart", {"json": {"image": "x"}}, 415, "send the images as multipart/form-data"),
    ("broken-multipart", {"content": b"garbage", "headers": {
        "content-type": "multipart/form-data; boundary=zz"}}, 400,
     "the request body is not valid multipart/form-data"),
    ("too-many-files", {"files": [("files", (f"{i}.png", b"x")) for i in range(17)]}, 413,
     "more than 16 files in one request"),
])
def test_bad_request_is_a_4xx_naming_the_problem(server, case, request_kwargs, status, message):
    response = httpx.post(server.url + "/api/predict", timeout=30, **request_kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"].startswith(message)
    assert server.alive()


def test_bad_top_k_is_a_4xx_naming_it(server, served_run):
    image = ("a.png", (served_run[1] / "cat" / "0.png").read_bytes())
    for value in ("0", "three"):
        response = post(server, [image], top_k=value)
        assert response.status_code == 422 and response.json()["error"].startswith("top_k: ")


def test_concurrent_requests_each_get_their_own_answer(server, served_run):
    images = sorted((served_run[1]).rglob("*.png"))[:16]
    expected = {p: post(server, [(p.name, p.read_bytes())]).json()[0]["top_k"] for p in images}

    def ask(path):
        return post(server, [(path.name, path.read_bytes())]).json()[0]["top_k"]

    work = images * 2
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, work))
    for path, answer in zip(work, answers):
        assert [c["label"] for c in answer] == [c["label"] for c in expected[path]]
        assert [c["probability"] for c in answer] == pytest.approx(
            [c["probability"] for c in expected[path]], abs=1e-6)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "s3cret-key"},
                                     {"Authorization": "Basic s3cret-key"}],
                         ids=["no-header", "wrong-key", "no-scheme", "basic-scheme"])
def test_api_key_is_required_on_the_api(keyed_server, served_run, headers):
    image = ("a.png", (served_run[1] / "cat" / "0.png").read_bytes())
    for response in (httpx.get(keyed_server.url + "/api/model", headers=headers),
                     httpx.get(keyed_server.url + "/api/pictures/curves.png", headers=headers),
                     post(keyed_server, [image], headers=headers)):
        assert response.status_code == 401
        assert "Authorization: Bearer KEY" in response.json()["error"]
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_right_api_key_opens_the_api_and_the_page_stays_open(keyed_server, served_run):
    key = {"Authorization": "Bearer s3cret-key"}
    image = ("a.png", (served_run[1] / "cat" / "0.png").read_bytes())
    assert httpx.get(keyed_server.url + "/api/model", headers=key).status_code == 200
    assert post(keyed_server, [image], headers=key).status_code == 200
    assert httpx.get(keyed_server.url + "/").status_code == 200  # the page asks for the key
    assert httpx.get(keyed_server.url + "/health").json()["api_key_required"] is True


def test_other_hosts_get_a_warning_and_loopback_does_not():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert host_warning("127.0.0.1", None) is None
    assert "Add --api-key KEY" in host_warning("0.0.0.0", None)
    assert "TLS" in host_warning("0.0.0.0", "key")


def test_a_port_in_use_is_one_sentence(served_run, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(served_run[0]), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --host 127.0.0.1 --port {port}: cannot listen there")


def test_without_the_serve_packages_it_says_what_to_install(served_run, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    assert main(["serve", str(served_run[0])]) == 2
    assert "pip install 'trainlab[serve]'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--port", "70000"], "argument --port: expected a port number from 0 to 65535"),
    (["--max-upload-mb", "0"], "argument --max-upload-mb: must be above 0"),
    (["--top-k", "0"], "argument --top-k: expected a whole number of at least 1"),
])
def test_bad_serve_flags_are_refused_naming_the_flag(served_run, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", str(served_run[0]), *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
