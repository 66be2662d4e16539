"""A tiny trained run and real `trainlab serve` processes on free loopback ports."""
import io
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from fake_data import make_image_folder
from trainlab.cli.main import main

pytest.importorskip("fastapi", reason="trainlab serve needs the optional group: "
                    "pip install -e '.[serve]' (make test installs it)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m trainlab serve RUN --port P ...` as a child process, stopped with Ctrl-C."""

    def __init__(self, run, *flags, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trainlab", "serve", str(run), "--port", str(self.port),
             *map(str, flags)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out, err = self.process.communicate()
                raise RuntimeError(f"trainlab serve exited with {self.process.returncode}:\n"
                                   f"{out}\n{err}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("trainlab serve did not answer /health within 90 s")

    def alive(self) -> bool:
        return self.process.poll() is None and \
            httpx.get(self.url + "/health", timeout=5).status_code == 200

    def stop(self) -> tuple[str, str]:
        """Ctrl-C, as a person stops it; returns what it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            out, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return out, err


@pytest.fixture(scope="session")
def served_run(tmp_path_factory):
    """A trained and evaluated run (curves and confusion matrix present) and its images."""
    root = tmp_path_factory.mktemp("serve")
    make_image_folder(root / "pets", classes=("cat", "dog", "fox"), per_class=12, size=16)
    run = root / "run"
    assert main(["train", "--model", "mlp", "--option", "hidden=[16]", "--data",
                 f"folder:{root / 'pets'}", "--out", str(run), "--epochs", "3",
                 "--batch-size", "8", "--log-steps", "0", "--seed", "1"]) == 0
    assert main(["evaluate", str(run)]) == 0
    return run, root / "pets"


@pytest.fixture(scope="session")
def server(served_run):
    """The server most tests talk to; --max-upload-mb 1 keeps the over-limit upload small."""
    started = Server(served_run[0], "--max-upload-mb", "1", "--top-k", "2")
    yield started
    started.stop()


@pytest.fixture(scope="session")
def keyed_server(served_run):
    """A server that wants an API key, given as a person would keep it out of `ps`: the
    environment. test_stopping.py, the last file here, stops it with Ctrl-C."""
    started = Server(served_run[0], env={"TRAINLAB_API_KEY": "s3cret-key"})
    yield started
    started.stop()


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
