"""`serve_run(run, ...)`: load the model, listen, and answer until Ctrl-C."""
from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import socket
import sys
from pathlib import Path

from ..workflows.config import ConfigError

# import name -> pip name, for the message when the optional group `serve` is not installed
SERVE_PACKAGES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart"}
INSTALL_HINT = "pip install 'trainlab[serve]' (in a clone: pip install -e '.[serve]')"


def missing_serve_packages() -> list[str]:
    return [pip_name for module, pip_name in SERVE_PACKAGES.items()
            if importlib.util.find_spec(module) is None]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def host_warning(host: str, api_key: str | None) -> str | None:
    """What to tell someone who makes the server reachable from other machines."""
    if is_loopback(host):
        return None
    return (f"warning: --host {host} lets other machines reach this server over plain HTTP"
            + ("; the API key travels unencrypted, so put a TLS proxy in front" if api_key
               else "; anyone who can reach it can use the model. Add --api-key KEY to "
               "require a key on the API"))


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or one sentence naming --host/--port when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ConfigError(f"--host {host}: not an address of this machine ({error.strerror})") \
            from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({error.strerror}); "
                          "choose another --port (or stop what is using it)") from None
    return sock


def serve_run(run: str | Path, host: str = "127.0.0.1", port: int = 8000,
              max_upload_mb: float = 10, api_key: str | None = None, top_k: int = 3,
              checkpoint: str | None = None, device="auto", echo=print) -> None:
    """Serve the page and API for a run's checkpoint at http://host:port until interrupted."""
    missing = missing_serve_packages()
    if missing:
        raise ConfigError(f"trainlab serve needs {', '.join(missing)}, which are not installed: "
                          + INSTALL_HINT)
    if max_upload_mb <= 0:
        raise ConfigError(f"--max-upload-mb must be above 0, got {max_upload_mb}")
    if api_key is not None and not api_key.strip():
        raise ConfigError("--api-key is empty; give a key, or leave the flag out")
    import uvicorn

    from .app import create_app
    from .model import load_served_model

    served = load_served_model(run, checkpoint, device)
    app = create_app(served, int(max_upload_mb * 1e6), api_key, top_k)
    sock = listen(host, port)
    port = sock.getsockname()[1]  # --port 0: the one the system chose
    shown = f"[{host}]" if ":" in host else host
    card = served.card
    echo(f"serving {card['run']}: {card['model']} on {card['data']}, {len(card['classes'])} "
         f"classes, on {served.predictor.device}")
    warning = host_warning(host, api_key)
    if warning:
        echo(warning, file=sys.stderr)
    echo(f"page: http://{shown}:{port}/   API docs: http://{shown}:{port}/docs"
         + ("   (the API needs 'Authorization: Bearer KEY')" if api_key else "")
         + "   Ctrl-C stops")
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5)
    # uvicorn shuts down on Ctrl-C/SIGTERM, then passes the signal on: by then all is done.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
    echo("stopped")
