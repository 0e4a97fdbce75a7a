"""``cspec serve``: a local web page to enhance, separate and rebuild speech, live microphone included, on a small
HTTP / WebSocket API (FastAPI + uvicorn; plain HTML/JS in ``static/``, no build step, nothing fetched from the
internet). Above :mod:`cspec.infer`, beside :mod:`cspec.cli`. See ``docs/serve.md``.

* :mod:`cspec.serve.app`: :func:`create_app`, the routes, the same-origin guard and the JSON errors.
* :mod:`cspec.serve.work`: the bounded work queue (503 when full) and the page's jobs in memory.
* :mod:`cspec.serve.tasks`: the catalogue of models, the tasks, figures (:mod:`cspec.plot`) and DNSMOS.
* :mod:`cspec.serve.upload`: uploads under a size limit, decoded by :mod:`cspec.audio`, WAV answers.
* :mod:`cspec.serve.live`: the live WebSocket session over :class:`cspec.infer.Stream`.
"""

from cspec.serve.app import create_app

__all__ = ["create_app"]
