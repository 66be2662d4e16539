"""`trainlab serve RUN ...`: parsing only; `trainlab.serve.serve_run` does the work."""
from __future__ import annotations

import argparse
import os

from .analysis_commands import positive_int


def positive_megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of megabytes, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return value


def add_serve_parser(commands) -> None:
    serve = commands.add_parser(
        "serve", help="a web page and JSON API that classify uploaded images with a run or an "
        "exported model",
        description="Serve a run's model (or a bundle folder or .onnx file from `trainlab "
        "export`): a page at / (choose or drop images, see the top-k "
        "classes, the model card), POST /api/predict (multipart files; ?top_k=K) answering "
        '[{"file": ..., "top_k": [{"label": ..., "probability": ...}]}], GET /api/model, '
        "GET /health, and the API's documentation at /docs. Needs the optional packages: "
        "pip install 'trainlab[serve]'.")
    serve.add_argument("run", metavar="RUN_OR_EXPORT",
                       help="run directory, bundle folder, or .onnx file with its model.json")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only; "
                       "another address is reachable by other machines and prints a warning)")
    serve.add_argument("--port", type=port_number, default=8000, help="port (default: 8000; 0: any free one)")
    serve.add_argument("--max-upload-mb", type=positive_megabytes, default=10, metavar="MB",
                       help="largest image file accepted, in megabytes (default: 10)")
    serve.add_argument("--api-key", default=os.environ.get("TRAINLAB_API_KEY"), metavar="KEY",
                       help="require 'Authorization: Bearer KEY' on the API (default: the "
                       "environment variable TRAINLAB_API_KEY, which keeps the key out of the "
                       "process list; unset: no key)")
    serve.add_argument("--top-k", type=positive_int, default=3, metavar="K",
                       help="classes shown per image unless a request asks otherwise "
                       "(default: 3)")
    serve.add_argument("--checkpoint", default=None, metavar="best|last|FILE",
                       help="best (default) or last: the run's own weights; or the path of a "
                       ".safetensors checkpoint")
    serve.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default: auto)")


def command_serve(args) -> int:
    from ..serve import serve_run  # FastAPI is imported only when serving

    serve_run(args.run, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
              api_key=args.api_key, top_k=args.top_k, checkpoint=args.checkpoint,
              device=args.device)
    return 0
