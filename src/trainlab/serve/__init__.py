"""`trainlab serve`: a web page and JSON API that answer with a trained run's model.

    serve_run("runs/cnn5", host="127.0.0.1", port=8000)

`server.py` starts uvicorn, `app.py` is the FastAPI application, `model.py` loads the model
once through the predict workflow, `uploads.py` reads and checks uploads in memory, and
`static/index.html` is the page. FastAPI, uvicorn and python-multipart are the optional
dependency group `serve`; importing this package does not need them.
"""
from .server import missing_serve_packages, serve_run

__all__ = ["serve_run", "missing_serve_packages"]
