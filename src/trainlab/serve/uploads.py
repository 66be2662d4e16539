"""Uploaded images, read into memory and checked before the model sees them.

Nothing is written to disk: the request body is streamed through python-multipart's parser into
bytes in memory (Starlette's own form parser spools files over 1 MB to a temporary file), and
each file is refused as soon as it passes the size limit. Every problem is an `UploadError`
carrying an HTTP status and one sentence naming the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO

import torch
from PIL import Image, UnidentifiedImageError
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..workflows.predict import load_for_model

# Pillow's own decompression-bomb threshold (about 89 megapixels, a 268 MB RGB image): larger
# pictures are refused from their header, before any pixel is decoded.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
MAX_FILES = 16  # per request; the page sends one request per image
MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries allowed on top of the files themselves


class UploadError(ValueError):
    """A request the server refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    name: str
    data: bytearray = field(default_factory=bytearray)


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


class UploadReader:
    """Feeds a multipart/form-data body, chunk by chunk, into `Upload`s held in memory.

    >>> reader = UploadReader(request.headers.get("content-type"), max_file_bytes=10_000_000)
    >>> for chunk in body: reader.write(chunk)
    >>> uploads = reader.finish()
    """

    def __init__(self, content_type: str | None, max_file_bytes: int, max_files: int = MAX_FILES):
        kind, options = parse_options_header(content_type or "")
        if kind != b"multipart/form-data" or not options.get(b"boundary"):
            raise UploadError(415, "send the images as multipart/form-data (one part per file, "
                              "e.g. curl -F files=@photo.jpg), not as "
                              f"{(kind or b'an untyped body').decode('latin-1')}")
        self.max_file_bytes, self.max_files = max_file_bytes, max_files
        self.uploads: list[Upload] = []
        self.problem: UploadError | None = None
        self._current: Upload | None = None
        self._header_name, self._header_value = bytearray(), bytearray()
        self._disposition = b""
        self._parser = MultipartParser(options[b"boundary"], callbacks={
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        })

    def write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError as error:
            raise UploadError(400, f"the request body is not valid multipart/form-data "
                              f"({error})") from None
        if self.problem is not None:  # raised here: the parser swallows nothing, but stays clean
            raise self.problem

    def finish(self) -> list[Upload]:
        try:
            self._parser.finalize()
        except MultipartParseError as error:
            raise UploadError(400, f"the request body is not valid multipart/form-data "
                              f"({error})") from None
        if not self.uploads:
            raise UploadError(400, "the request holds no files; send one or more images as "
                              "multipart form fields, e.g. curl -F files=@photo.jpg")
        return self.uploads

    def _part_begin(self) -> None:
        self._disposition = b""

    def _header_end(self) -> None:
        if bytes(self._header_name).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        field_name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            self.problem = self.problem or UploadError(
                400, f"form field {field_name!r} is not a file; send images as files "
                "(curl -F files=@photo.jpg) and top_k in the URL (?top_k=3)")
            self._current = None
            return
        if len(self.uploads) == self.max_files:
            self.problem = self.problem or UploadError(
                413, f"more than {self.max_files} files in one request; send them in several")
            self._current = None
            return
        name = options[b"filename"].decode("utf-8", "replace") or f"file {len(self.uploads) + 1}"
        self._current = Upload(name)
        self.uploads.append(self._current)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._current
        if upload is None or self.problem is not None:
            return
        upload.data.extend(data[start:end])
        if len(upload.data) > self.max_file_bytes:
            self.problem = UploadError(
                413, f"{upload.name}: larger than the limit of {megabytes(self.max_file_bytes)} "
                "(--max-upload-mb); send a smaller image")
            upload.data.clear()  # never held beyond the limit


def decode_upload(upload: Upload, preprocessing: dict) -> torch.Tensor:
    """The upload as the model's uint8 (C, H, W) tensor, prepared exactly as `trainlab predict`
    prepares a file (workflows.predict.load_for_model)."""
    name, data = upload.name, bytes(upload.data)
    if not data:
        raise UploadError(400, f"{name}: the file is empty")
    try:
        with Image.open(BytesIO(data)) as image:  # reads the header only
            width, height = image.size
            kind = image.format
    except UnidentifiedImageError:
        raise UploadError(415, f"{name}: not an image that Pillow can read (PNG, JPEG, GIF, "
                          "BMP, TIFF, WebP, ...)") from None
    except Exception as error:
        raise UploadError(422, f"{name}: a damaged image file ({error})") from None
    if width * height > MAX_PIXELS:
        raise UploadError(413, f"{name}: {width} x {height} pixels ({width * height / 1e6:.0f} "
                          f"megapixels) is over the limit of {MAX_PIXELS / 1e6:.0f} megapixels "
                          "(a decompression bomb, or a very large picture: scale it down)")
    try:
        return load_for_model(BytesIO(data), preprocessing)
    except Exception as error:  # truncated or corrupt pixel data
        raise UploadError(422, f"{name}: the {kind} image cannot be decoded, it is truncated or "
                          f"damaged ({error})") from None
