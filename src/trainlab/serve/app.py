"""The FastAPI application: the page at /, the JSON API under /api, /health, docs at /docs.

Every error is JSON `{"error": "one sentence"}` with a 4xx status; a request can never take the
server down (uploads are checked in uploads.py, and anything unexpected becomes a 500 with its
traceback on the server's console).
"""
from __future__ import annotations

import secrets
from importlib import resources

import anyio
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from .. import __version__
from .model import CARD_PICTURES, ServedModel
from .uploads import MAX_FILES, MULTIPART_OVERHEAD, UploadError, UploadReader, megabytes

PREDICT_BODY = {  # what /docs shows for POST /api/predict (the body is parsed by hand)
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                 "description": f"one to {MAX_FILES} image files"}}}}},
}


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(served: ServedModel, max_upload_bytes: int, api_key: str | None = None,
               default_top_k: int = 3) -> FastAPI:
    """The app for one model. With `api_key`, every /api route needs `Authorization: Bearer
    KEY`; the page, /health and the docs stay open (the page asks for the key)."""
    app = FastAPI(title="trainlab serve", version=__version__,
                  description=f"Predictions from {served.card['model']} trained on "
                              f"{served.card['data']} ({len(served.card['classes'])} classes).")
    page = resources.files(__package__).joinpath("static/index.html").read_text()

    @app.exception_handler(UploadError)
    async def upload_error(request, exc: UploadError):
        return error(exc.status, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        problems = [f"{'.'.join(map(str, e['loc'][1:])) or e['loc'][0]}: {e['msg']}"
                    for e in exc.errors()]
        return error(422, "; ".join(problems))

    @app.exception_handler(Exception)
    async def unexpected_error(request, exc: Exception):  # uvicorn logs the traceback
        return error(500, f"unexpected error ({type(exc).__name__}: {exc}); the traceback is "
                     "on the server's console")

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(),
                                                                     api_key.encode()):
            raise HTTPException(401, "missing or wrong API key: send the header "
                                "'Authorization: Bearer KEY' with the key the server was "
                                "started with (--api-key)",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return page

    @app.get("/health", summary="Whether the server is up, and which model it serves")
    async def health():
        return {"status": "ok", "model": served.card["model"], "run": served.card["run"],
                "api_key_required": api_key is not None}

    @app.get("/api/model", dependencies=[Depends(check_key)],
             summary="The model card: model, data, classes, accuracy, parameters, pictures")
    async def model_card():
        return {**served.card, "default_top_k": default_top_k,
                "max_upload_mb": max_upload_bytes / 1e6, "max_files": MAX_FILES,
                "pictures": [{"url": f"/api/pictures/{name}", "title": CARD_PICTURES[name]}
                             for name in served.pictures]}

    @app.get("/api/pictures/{name}", dependencies=[Depends(check_key)],
             summary="One of the run's pictures listed in /api/model")
    async def picture(name: str):
        if name not in served.pictures:
            return error(404, f"no picture {name!r}; /api/model lists the ones this run has")
        return Response(served.pictures[name], media_type="image/png")

    @app.post("/api/predict", dependencies=[Depends(check_key)], openapi_extra={
        "requestBody": PREDICT_BODY},
              summary="Top-k classes for each uploaded image")
    async def predict(request: Request,
                      top_k: int = Query(default_top_k, ge=1, le=1000,
                                         description="how many classes per image")):
        """Answers `[{"file": name, "top_k": [{"label": ..., "probability": ...}, ...]}]`, one
        item per file in the order sent; the same numbers as `trainlab predict`."""
        declared = request.headers.get("content-length")
        limit = MAX_FILES * max_upload_bytes + MULTIPART_OVERHEAD
        if declared and declared.isdigit() and int(declared) > limit:
            raise UploadError(413, f"the request is {megabytes(int(declared))}, over the limit "
                              f"of {MAX_FILES} files of {megabytes(max_upload_bytes)} each "
                              "(--max-upload-mb)")
        reader = UploadReader(request.headers.get("content-type"), max_upload_bytes)
        received, problem = 0, None
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise UploadError(413, f"the request is over the limit of {MAX_FILES} files of "
                                  f"{megabytes(max_upload_bytes)} each (--max-upload-mb)")
            if problem is None:
                try:
                    reader.write(chunk)
                except UploadError as refused:
                    # Read the rest (discarding it) so that the client, still sending, gets the
                    # answer instead of a reset connection.
                    problem = refused
        if problem is not None:
            raise problem
        uploads = reader.finish()
        # Decoding and the forward pass run in a worker thread: the event loop keeps answering.
        return await anyio.to_thread.run_sync(served.predict, uploads, top_k)

    return app
