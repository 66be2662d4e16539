"""Load test of `trainlab serve` on loopback: CLIENTS concurrent clients send REQUESTS requests.

    make bench-serve                                   # 8 clients, 2,000 requests
    python benchmarks/bench_serve.py --run runs/cnn5 --clients 8 --requests 2000

It starts `trainlab serve` as a real process on a free 127.0.0.1 port (serving `--run`, or by
default a CNN trained for one epoch on the embedded digits, cached in benchmarks/.cache/), sends
each request one PNG (one of 64 digits test images), and checks every answer: status 200 and the
same top-1 class as that image's first answer; anything else counts as an error. It reports
requests/s, latency percentiles and the server's resident memory before and after, then stops
the server with Ctrl-C. Bounded: at most REQUESTS requests and --deadline seconds in all.
Clients are threads using http.client with keep-alive connections and bodies encoded once, so
the client side costs little of the machine the server runs on.
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).parent
BOUNDARY = "trainlab-bench-boundary"


def default_run() -> Path:
    """A CNN trained one epoch on the embedded digits (about 10 s once; then cached)."""
    run = HERE / ".cache" / "serve-cnn-digits"
    if not (run / "results.json").is_file():
        subprocess.run([sys.executable, "-m", "trainlab", "train", "--model", "cnn", "--data",
                        "digits", "--epochs", "1", "--log-steps", "0", "--out", str(run)],
                       check=True, stdout=subprocess.DEVNULL)
    return run


def request_bodies(count: int) -> list[bytes]:
    """`count` multipart bodies, each one 32x32 grey PNG of a digits test image."""
    from trainlab.data import create_dataset

    images = create_dataset("digits").test.images[:count]
    bodies = []
    for i, image in enumerate(images):
        png = io.BytesIO()
        Image.fromarray(image.squeeze(0).numpy()).save(png, format="PNG")
        bodies.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="digit{i}.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
            + png.getvalue() + f"\r\n--{BOUNDARY}--\r\n".encode())
    return bodies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(connection: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    connection.request("POST", "/api/predict", body=body, headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    response = connection.getresponse()
    return response.status, response.read()


def top1(answer: bytes) -> str:
    return json.loads(answer)[0]["top_k"][0]["label"]


def start_server(run: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "trainlab", "serve", str(run), "--port",
                               str(port)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"trainlab serve exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("trainlab serve did not answer /health within 120 s")


def load_test(port: int, bodies: list[bytes], expected: list[str], clients: int, requests: int,
              deadline_s: float) -> tuple[list[float], list[str], float]:
    """Latencies (s) of the answered requests, the errors in words, and the wall time."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))  # next() on a shared iterator hands out request numbers
    lock = threading.Lock()
    stop_at = time.monotonic() + deadline_s

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop_at:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            image = number % len(bodies)
            started = time.perf_counter()
            try:
                status, answer = post(connection, bodies[image])
                problem = None if status == 200 and top1(answer) == expected[image] else \
                    f"request {number}: status {status}, {answer[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError) as error:
                problem = f"request {number}: {type(error).__name__}: {error}"
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                (errors.append(problem) if problem else latencies.append(elapsed))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    unsent = requests - len(latencies) - len(errors)
    if unsent:
        errors.append(f"{unsent} request(s) not sent before the {deadline_s:.0f} s deadline")
    return latencies, errors, wall


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="run directory to serve "
                        "(default: a CNN on digits, trained once into benchmarks/.cache)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--deadline", type=float, default=600, help="seconds, at most")
    args = parser.parse_args(argv)
    run = args.run or default_run()
    bodies = request_bodies(64)
    port = free_port()
    server = start_server(run, port)
    try:
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        expected = []
        for body in bodies:  # each image's answer, and a warm-up of the server
            status, answer = post(warm, body)
            if status != 200:
                raise SystemExit(f"warm-up request failed: {status} {answer[:300]!r}")
            expected.append(top1(answer))
        warm.close()
        memory_before = resident_mb(server.pid)
        latencies, errors, wall = load_test(port, bodies, expected, args.clients,
                                            args.requests, args.deadline)
        memory_after = resident_mb(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"trainlab serve {run}: {args.clients} clients, {args.requests} requests of one "
          f"32x32 PNG each, loopback, {os.cpu_count()} CPU(s)")
    print(f"answered: {len(latencies)} in {wall:.1f} s = {len(latencies) / wall:.0f} requests/s; "
          f"errors: {len(errors)}")
    if latencies:
        print("latency ms: p50 {:.1f}, p90 {:.1f}, p99 {:.1f}, max {:.1f}, mean {:.1f}".format(
            *(1000 * percentile(latencies, q) for q in (0.5, 0.9, 0.99)),
            1000 * max(latencies), 1000 * statistics.fmean(latencies)))
    print(f"server memory (resident): {memory_before:.0f} MB before, {memory_after:.0f} MB after")
    for problem in errors[:10]:
        print(f"error: {problem}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
