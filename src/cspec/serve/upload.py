"""Uploads: the request body read into memory under a size limit, its multipart form parsed in memory, the audio
decoded by :mod:`cspec.audio` from a private temporary file that is always removed, and WAV bytes for answers.

The client's file name is never used as a path: it is reduced to a display name (:func:`display_name`) that names
the input in error messages (as the CLI names its input file) and in ``Content-Disposition``. The temporary file
is ``upload-<random>.<suffix>`` in the server's private folder (mode 0700), with the suffix kept only when it is
one of the audio suffixes the CLI reads; it is removed in a ``finally`` whatever happens.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from cspec import audio
from cspec.errors import CspecError

__all__ = ["TooLarge", "BadRequest", "read_capped", "parse_form", "display_name", "decode", "wav_bytes"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".opus")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class TooLarge(Exception):
    """The request body is over the upload limit (HTTP 413)."""


class BadRequest(CspecError):
    """A malformed request: no file, an unknown field value, a broken form (HTTP 400)."""


async def read_capped(request, limit: int) -> bytes:
    """The request body, refused with :class:`TooLarge` as soon as it passes ``limit`` bytes (the announced
    ``Content-Length`` is checked before anything is read)."""
    announced = request.headers.get("content-length")
    if announced is not None and announced.isdigit() and int(announced) > limit:
        raise TooLarge(f"the upload is {int(announced) / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB")
    buf = bytearray()
    async for piece in request.stream():
        buf += piece
        if len(buf) > limit:
            raise TooLarge(f"the upload is over the limit of {limit / 1e6:.1f} MB")
    return bytes(buf)


def parse_form(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """``(fields, files)`` of a ``multipart/form-data`` body, all in memory; ``files`` maps a field to
    ``(client file name, bytes)``."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("send the audio as multipart/form-data with a 'file' field")
    parts: list[dict] = []
    cur: dict = {}

    def on_part_begin():
        cur.clear()
        cur.update(headers={}, data=bytearray(), field=b"", value=b"")

    def on_header_field(data, start, end):
        cur["field"] += data[start:end]

    def on_header_value(data, start, end):
        cur["value"] += data[start:end]

    def on_header_end():
        cur["headers"][cur["field"].lower()] = cur["value"]
        cur["field"], cur["value"] = b"", b""

    def on_part_data(data, start, end):
        cur["data"] += data[start:end]

    def on_part_end():
        parts.append(dict(cur))

    parser = MultipartParser(boundary, dict(on_part_begin=on_part_begin, on_header_field=on_header_field,
                                            on_header_value=on_header_value, on_header_end=on_header_end,
                                            on_part_data=on_part_data, on_part_end=on_part_end))
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own types for every malformed body
        raise BadRequest(f"malformed multipart form ({type(exc).__name__})") from None
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in parts:
        _, disp = parse_options_header(part["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in disp:
            files[name] = (disp[b"filename"].decode("utf-8", "replace"), bytes(part["data"]))
        else:
            fields[name] = bytes(part["data"]).decode("utf-8", "replace")
    return fields, files


def display_name(client_name: str | None) -> str:
    """The client's file name reduced to a safe display name: its last component, only letters, digits, dots,
    dashes, underscores and spaces, at most 80 characters; ``upload`` when nothing is left."""
    base = re.split(r"[\\/]", client_name or "")[-1]
    name = _UNSAFE.sub("_", base).strip(" .")[:80]
    return name or "upload"


def decode(data: bytes, name: str, tmp_dir: str | os.PathLike) -> tuple[torch.Tensor, int]:
    """``(wave (channels, samples), rate)`` of the uploaded bytes, read by :func:`cspec.audio.load` (so a bad
    file gets the CLI's one-line error, naming ``name`` where the CLI names the file)."""
    if not data:
        raise BadRequest(f"{name}: the upload is empty (no bytes)")
    suffix = Path(name).suffix.lower()
    tmp = Path(tmp_dir) / f"upload-{uuid.uuid4().hex}{suffix if suffix in AUDIO_SUFFIXES else ''}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return audio.load(tmp)
    except CspecError as err:
        raise type(err)(str(err).replace(str(tmp), name)) from None
    finally:
        tmp.unlink(missing_ok=True)


def private_dir() -> str:
    """A new private folder (0700) for the server's temporary files."""
    return tempfile.mkdtemp(prefix="cspec-serve-")


def wav_bytes(wave: torch.Tensor | np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    """``wave`` (``(samples,)`` or ``(channels, samples)``) as the bytes of a WAV file (16-bit PCM by default,
    clipped to [-1, 1])."""
    x = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
    x = np.atleast_2d(x.astype(np.float32))
    if subtype.startswith("PCM"):
        x = np.clip(x, -1.0, 1.0)
    buf = io.BytesIO()
    sf.write(buf, x.T, int(sr), subtype=subtype, format="WAV")
    return buf.getvalue()
