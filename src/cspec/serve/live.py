"""Live mode: a WebSocket session that enhances microphone audio block by block with :class:`cspec.infer.Stream`.

Protocol (``docs/serve.md``): the client opens ``/api/live?model=NAME&rate=R`` (``R`` must be the model's rate,
16 kHz for the bundled enhancers; the page asks the browser for an AudioContext at that rate, so the browser
resamples the microphone). The server answers with one JSON text message ``{"type": "ready", "model_rate",
"latency_samples", "algorithmic_ms"}`` (the stream's look-ahead: output sample ``t`` needs input up to
``t + latency``), or ``{"type": "error", "error"}`` and closes. Then each binary message from the client is a
little-endian float64 timestamp (the client's clock, ms) followed by float32 samples; the server answers each with
a binary message: the same timestamp, a float64 of the server's processing time (ms), then the float32 enhanced
samples finished so far (all answers and the flush put end to end equal the model's offline output on the whole
input: :class:`cspec.infer.Stream` is exact). A text message ``{"type": "stop"}`` flushes the rest (one more binary message, timestamp -1)
and closes. Round trip (client clock) and algorithmic latency are reported apart; see ``docs/serve.md``.
"""

from __future__ import annotations

import asyncio
import json
import struct
import threading
import time

import numpy as np
import torch

from cspec.errors import CspecError

__all__ = ["LiveLimit", "live_session", "pack", "unpack", "MAX_BLOCK"]

#: the most samples one message may carry (2 s at 16 kHz)
MAX_BLOCK = 32000
_HEAD = struct.Struct("<dd")


class LiveLimit:
    """At most ``n`` live sessions at once."""

    def __init__(self, n: int) -> None:
        self.n, self.active, self._lock = n, 0, threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.active >= self.n:
                return False
            self.active += 1
            return True

    def give(self) -> None:
        with self._lock:
            self.active -= 1


def pack(t_ms: float, server_ms: float, samples: np.ndarray) -> bytes:
    """A server message: timestamp, processing time, float32 samples."""
    return _HEAD.pack(t_ms, server_ms) + np.asarray(samples, dtype="<f4").tobytes()


def unpack(data: bytes) -> tuple[float, np.ndarray]:
    """A client message: ``(timestamp ms, float32 samples)``; :class:`ValueError` for a malformed one."""
    if len(data) < 8 or (len(data) - 8) % 4:
        raise ValueError("a block is a float64 timestamp followed by float32 samples")
    t = struct.unpack_from("<d", data, 0)[0]
    x = np.frombuffer(data, dtype="<f4", offset=8)
    if x.size > MAX_BLOCK:
        raise ValueError(f"a block holds at most {MAX_BLOCK} samples, got {x.size}")
    if not np.isfinite(x).all():
        raise ValueError("a block holds NaN or Inf samples")
    return t, x


async def live_session(ws, catalogue, limit: LiveLimit) -> None:
    """Run one live session on an accepted-to-be WebSocket (see the module docstring)."""
    from starlette.websockets import WebSocketDisconnect

    from cspec.infer import Stream

    await ws.accept()
    if not limit.take():
        await ws.send_text(json.dumps({"type": "error", "error": f"busy: {limit.n} live sessions are open; try "
                                       "again later"}))
        await ws.close(code=1013)
        return
    try:
        name = ws.query_params.get("model") or catalogue.listing()["defaults"]["live"]
        try:
            model = await asyncio.to_thread(catalogue.stream_model, name)
            stream = Stream(model)
            rate = int(ws.query_params.get("rate") or stream.sample_rate)
            if rate != stream.sample_rate:
                raise CspecError(f"live audio must come at the model's rate, {stream.sample_rate} Hz, not {rate} Hz; "
                                 "resample on the client (the page asks the browser for an AudioContext at that rate)")
        except (CspecError, ValueError) as err:
            await ws.send_text(json.dumps({"type": "error", "error": " ".join(str(err).split())}))
            await ws.close(code=1008)
            return
        await ws.send_text(json.dumps({"type": "ready", "model": name, "model_rate": stream.sample_rate,
                                       "latency_samples": stream.latency,
                                       "algorithmic_ms": round(1000 * stream.latency / stream.sample_rate, 2)}))
        n_in = 0

        def step(x: np.ndarray) -> tuple[np.ndarray, float]:
            t0 = time.perf_counter()
            with torch.inference_mode():
                y = stream.process(torch.from_numpy(x.copy()))
            return y.numpy(), 1000 * (time.perf_counter() - t0)

        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes") is not None:
                try:
                    t, x = unpack(msg["bytes"])
                except ValueError as err:
                    await ws.send_text(json.dumps({"type": "error", "error": str(err)}))
                    await ws.close(code=1003)
                    return
                n_in += x.size
                y, ms = await asyncio.to_thread(step, x)
                await ws.send_bytes(pack(t, ms, y))
            elif msg.get("text") is not None:
                try:
                    kind = json.loads(msg["text"] or "{}").get("type")
                except (ValueError, AttributeError):
                    kind = None
                if kind == "stop":
                    if n_in:
                        y = await asyncio.to_thread(lambda: stream.flush().numpy())
                        await ws.send_bytes(pack(-1.0, 0.0, y))
                    await ws.close(code=1000)
                    return
    except WebSocketDisconnect:
        return
    finally:
        limit.give()
