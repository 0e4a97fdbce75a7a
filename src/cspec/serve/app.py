"""The FastAPI application: the page, its HTTP API and the live WebSocket (see ``docs/serve.md`` for the API).

:func:`create_app` takes every limit as an argument (the tests make small ones). Uploads are read into memory
under ``max_upload`` bytes (413 above), decoded by :mod:`cspec.audio` in the work queue (one-line errors, HTTP
400), and processed there; a full queue answers 503 with ``Retry-After``. Every error is JSON
``{"error": "<one line>"}``. No CORS headers are sent, and a request whose ``Origin`` is not the server's own is
refused (403; WebSocket: closed before it opens), so other sites can neither read answers nor start work.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from cspec.errors import CspecError, ModelError
from cspec.serve.live import LiveLimit, live_session
from cspec.serve.tasks import TASKS, Catalogue, figures, run_task, scores
from cspec.serve.upload import BadRequest, TooLarge, decode, display_name, parse_form, private_dir, read_capped, wav_bytes
from cspec.serve.work import Busy, Job, JobStore, WorkQueue

__all__ = ["create_app", "one_line"]

STATIC = Path(__file__).resolve().parent / "static"
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def same_origin(headers) -> bool:
    """True when the request has no ``Origin`` (not from a browser page) or one whose host is the ``Host``."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == (headers.get("host") or "").lower()


def create_app(model_dirs=(), max_upload: int = 50_000_000, workers: int = 1, capacity: int = 4,
               max_jobs: int = 16, job_ttl: float = 900.0, threads: int | None = None, tmp_dir: str | None = None,
               max_live: int = 4):
    """The application. ``max_upload``: bytes of one request body; ``workers``: threads that process work;
    ``capacity``: pieces of work held at once (running + waiting); ``max_jobs``/``job_ttl``: page jobs kept in
    memory and for how long after they end; ``threads``: torch and onnxruntime intra-op threads (``None``
    leaves torch's setting); ``tmp_dir``: the private folder of upload files (default: a new one, removed at
    shutdown); ``max_live``: live WebSocket sessions at once."""
    from contextlib import asynccontextmanager

    import torch

    if threads is not None:
        torch.set_num_threads(max(1, threads))
    catalogue = Catalogue(model_dirs, threads=threads or 1)
    queue, jobs = WorkQueue(workers, capacity), JobStore(max_jobs, job_ttl)
    own_tmp = tmp_dir is None
    tmp = Path(tmp_dir or private_dir())
    live_limit = LiveLimit(max_live)

    @asynccontextmanager
    async def lifespan(app):
        yield
        queue.shutdown()
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    app = FastAPI(title="cspec serve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.queue, app.state.jobs, app.state.catalogue, app.state.tmp_dir = queue, jobs, catalogue, tmp
    app.state.max_upload = max_upload

    def error(status: int, message: str, **headers) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers or None)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if not same_origin(request.headers):
            return error(403, "cross-origin requests are refused; use the page this server serves")
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - one JSON line, never a traceback page
            return error(500, f"internal error: {type(exc).__name__}: {one_line(exc)}")
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.exception_handler(TooLarge)
    async def _too_large(request, exc):
        return error(413, one_line(exc))

    @app.exception_handler(Busy)
    async def _busy(request, exc):
        return error(503, one_line(exc), **{"Retry-After": "2"})

    @app.exception_handler(CspecError)
    async def _cspec(request, exc):
        return error(500 if isinstance(exc, ModelError) else 400, one_line(exc))

    async def form(request: Request) -> tuple[dict, str, bytes]:
        body = await read_capped(request, max_upload)
        fields, files = parse_form(body, request.headers.get("content-type", ""))
        if "file" not in files:
            raise BadRequest("no audio: send the file in the multipart field 'file'")
        name, data = files["file"]
        return fields, display_name(name), data

    def work(task: str, data: bytes, name: str, fields: dict, job: Job | None = None):
        wave, sr = decode(data, name, tmp)
        progress = job.update if job else (lambda f, s: None)
        names, outs = run_task(catalogue, task, wave, sr, fields.get("model") or None, fields.get("method") or None,
                               progress)
        return wave, sr, names, outs

    def result_files(name: str, task: str, names: list[str], outs, sr: int) -> tuple[dict, str]:
        stem = Path(name).stem or "upload"
        files = {f"{n}.wav": wav_bytes(o, sr) for n, o in zip(names, outs)}
        if task == "separate":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for n, data in files.items():
                    z.writestr(f"{stem}_{n}", data)
            return {**files, "sources.zip": buf.getvalue()}, f"{stem}_sources.zip"
        return files, f"{stem}_{names[0]}.wav"

    async def direct(request: Request, task: str) -> Response:
        fields, name, data = await form(request)
        wave, sr, names, outs = await asyncio.wrap_future(queue.submit(work, task, data, name, fields))
        files, download = result_files(name, task, names, outs, sr)
        key = "sources.zip" if task == "separate" else f"{names[0]}.wav"
        return Response(files[key], media_type="application/zip" if task == "separate" else "audio/wav",
                        headers={"Content-Disposition": f'attachment; filename="{download}"'})

    @app.post("/api/enhance")
    async def api_enhance(request: Request):
        return await direct(request, "enhance")

    @app.post("/api/separate")
    async def api_separate(request: Request):
        return await direct(request, "separate")

    @app.post("/api/reconstruct")
    async def api_reconstruct(request: Request):
        return await direct(request, "reconstruct")

    @app.get("/api/models")
    async def api_models():
        return dict(catalogue.listing(), limits={"max_upload": max_upload, "capacity": capacity,
                                                 "workers": workers, "max_live": max_live})

    def job_work(job: Job, data: bytes, fields: dict) -> None:
        try:
            job.update(0.02, "decoding")
            wave, sr, names, outs = work(job.task, data, job.name, fields, job)
            job.update(0.65, "drawing figures")
            figs = figures(wave, sr, names, outs, "input")
            job.update(0.8, "scoring (DNSMOS)")
            sc = scores(wave, sr, names, outs)
            files, download = result_files(job.name, job.task, names, outs, sr)
            job.files = {"input.wav": wav_bytes(wave, sr), **files, **figs}
            job.result = {"outputs": [f"{n}.wav" for n in names], "figures": list(figs), "scores": sc,
                          "sample_rate": sr, "seconds": round(wave.shape[-1] / sr, 3), "channels": wave.shape[0],
                          "download": "sources.zip" if job.task == "separate" else f"{names[0]}.wav",
                          "download_name": download}
            job.finish()
        except CspecError as err:
            job.finish(one_line(err))
        except Exception as err:  # noqa: BLE001 - shown on the page as one line
            job.finish(f"internal error: {type(err).__name__}: {one_line(err)}")

    @app.post("/api/jobs", status_code=202)
    async def api_jobs(request: Request):
        fields, name, data = await form(request)
        task = fields.get("task", "enhance")
        if task not in TASKS:
            raise BadRequest(f"unknown task '{task}'; choose one of {', '.join(TASKS)}")
        job = jobs.add(Job(task=task, name=name))
        try:
            queue.submit(job_work, job, data, fields)
        except Busy:
            jobs.drop(job.id)
            raise
        return JSONResponse(job.public("/api/jobs"), status_code=202)

    @app.get("/api/jobs/{key}")
    async def api_job(key: str):
        job = jobs.get(key)
        if job is None:
            return error(404, f"no job '{key[:40]}' (finished jobs are kept for {job_ttl:g} s)")
        return job.public("/api/jobs")

    @app.get("/api/jobs/{key}/files/{fname}")
    async def api_job_file(key: str, fname: str, download: int = 0):
        job = jobs.get(key)
        if job is None or fname not in job.files:
            return error(404, "no such job or file")
        kind = {"wav": "audio/wav", "png": "image/png", "zip": "application/zip"}[fname.rsplit(".", 1)[-1]]
        headers = {"Cache-Control": "private, max-age=600"}
        if download:
            name = job.result["download_name"] if fname == job.result["download"] else f"{Path(job.name).stem}_{fname}"
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(job.files[fname], media_type=kind, headers=headers)

    @app.websocket("/api/live")
    async def api_live(ws: WebSocket):
        if not same_origin(ws.headers):
            await ws.close(code=1008)
            return
        await live_session(ws, catalogue, live_limit)

    @app.get("/")
    async def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
