"""Load test of ``cspec serve``: 20 concurrent 10-second uploads, the server's peak memory, and the live mode's
measured end-to-end latency. Writes ``benchmarks/SERVE.md``.

1. Starts ``cspec serve`` in a subprocess on a free port (its default limits unless given).
2. Burst: ``--clients`` threads POST a 10-s WAV to ``/api/enhance`` at the same instant (a barrier). Every request
   must be answered: 200 with a WAV of exactly the input's frames and rate, or 503 "busy" with ``Retry-After``
   and a JSON one-line error; anything else (or no answer) counts as lost.
3. Retry: the same burst, each client retrying after ``Retry-After`` on 503 until it gets its result: all must.
4. Live: a Python WebSocket client sends 20 ms blocks of a 10-s signal paced in real time to ``/api/live`` and
   times each block's answer (round trip: network + server). End-to-end latency = capture block + round trip
   (median) + the stream's algorithmic latency (the model's look-ahead), each also stated apart.
The server's resident memory (RSS, psutil) is sampled every 20 ms throughout; its peak is reported.

    .venv/bin/python benchmarks/serve_load.py [--clients 20] [--seconds 10] [--out benchmarks/SERVE.md]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import requests
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CSPEC_DATA", ROOT.parent / "shared" / "data"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signal_10s(seconds: float, sr: int = 16000) -> tuple[np.ndarray, str]:
    """A real noisy recording (the first of dev_noisy_real), looped or cut to ``seconds``; else a synthetic one."""
    files = sorted((DATA / "dev_noisy_real").glob("*.flac"))
    n = int(seconds * sr)
    if files:
        x, rate = sf.read(files[0], dtype="float32")
        if rate == sr and x.ndim == 1:
            return np.resize(x, n), f"{files[0].name} looped to {seconds:g} s"
    rng = np.random.default_rng(0)
    t = np.arange(n) / sr
    voice = sum(np.sin(2 * np.pi * 180 * k * t) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (0.2 * voice + 0.03 * rng.standard_normal(n)).astype(np.float32), "synthetic harmonic signal in noise"


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc, self.peak, self.stop = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)


def burst(url: str, body: bytes, n: int, frames: int, retry: bool) -> dict:
    """``n`` concurrent POSTs; with ``retry``, each client retries on 503 until it gets a result."""
    barrier, results = threading.Barrier(n), [None] * n

    def client(i: int) -> None:
        barrier.wait()
        t0, tries = time.perf_counter(), 0
        while True:
            tries += 1
            try:
                r = requests.post(url, files={"file": (f"load{i}.wav", body)}, data={"model": "tiny"}, timeout=300)
            except requests.RequestException as exc:
                results[i] = ("lost", type(exc).__name__, time.perf_counter() - t0, tries)
                return
            if r.status_code == 200:
                y, sr = sf.read(io.BytesIO(r.content), dtype="float32")
                ok = y.shape == (frames,) and sr == 16000
                results[i] = ("result" if ok else "bad result", 200, time.perf_counter() - t0, tries)
                return
            if r.status_code == 503 and r.headers.get("retry-after") and r.json()["error"].startswith("busy"):
                if retry:
                    time.sleep(float(r.headers["retry-after"]))
                    continue
                results[i] = ("busy", 503, time.perf_counter() - t0, tries)
                return
            results[i] = ("lost", r.status_code, time.perf_counter() - t0, tries)
            return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = [r[0] if r else "lost" for r in results]
    done = [r[2] for r in results if r and r[0] == "result"]
    return {"result": kinds.count("result"), "busy": kinds.count("busy"), "lost": n - kinds.count("result") -
            kinds.count("busy"), "wall": time.perf_counter() - t0, "tries": sum(r[3] for r in results if r),
            "first": min(done) if done else float("nan"), "last": max(done) if done else float("nan")}


async def live(port: int, x: np.ndarray, sr: int = 16000, block_s: float = 0.02) -> dict:
    from websockets.asyncio.client import connect

    block = int(block_s * sr)
    rtts, server, received = [], [], 0
    async with connect(f"ws://127.0.0.1:{port}/api/live?model=tiny&rate={sr}", max_size=1 << 22) as ws:
        import json

        ready = json.loads(await ws.recv())

        async def reader():
            nonlocal received
            async for msg in ws:
                if isinstance(msg, bytes):
                    t, ms = struct.unpack_from("<dd", msg)
                    received += (len(msg) - 16) // 4
                    if t < 0:
                        return
                    rtts.append(1000 * time.perf_counter() - t)
                    server.append(ms)

        task = asyncio.create_task(reader())
        start = time.perf_counter()
        for i, pos in enumerate(range(0, x.size, block)):
            await asyncio.sleep(max(0.0, start + (i + 1) * block_s - time.perf_counter()))  # the block is captured
            await ws.send(struct.pack("<d", 1000 * time.perf_counter()) + x[pos: pos + block].astype("<f4").tobytes())
        await ws.send(json.dumps({"type": "stop"}))
        await asyncio.wait_for(task, 30)
    rtts.sort()
    return {"algorithmic_ms": ready["algorithmic_ms"], "block_ms": 1000 * block_s, "blocks": len(rtts),
            "rtt_median": statistics.median(rtts), "rtt_p95": rtts[int(0.95 * (len(rtts) - 1))], "rtt_max": rtts[-1],
            "server_median": statistics.median(server), "received": received, "sent": x.size}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--serve-args", default="", help="extra options of cspec serve, e.g. '--workers 2 --queue 6'")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "SERVE.md"))
    ap.add_argument("--note", default="", help="a sentence about the machine's state, added under the command")
    args = ap.parse_args()
    x, what = signal_10s(args.seconds)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, subtype="PCM_16", format="WAV")
    body = buf.getvalue()
    port = free_port()
    cmd = [sys.executable, "-m", "cspec", "serve", "--port", str(port), *args.serve_args.split()]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                limits = requests.get(url + "/api/models", timeout=2).json()["limits"]
                break
            except (requests.RequestException, ValueError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
        rss = RssSampler(server.pid)
        rss.start()
        requests.post(url + "/api/enhance", files={"file": ("warm.wav", body)}, data={"model": "tiny"}, timeout=300)
        base = psutil.Process(server.pid).memory_info().rss
        first = burst(url + "/api/enhance", body, args.clients, x.size, retry=False)
        second = burst(url + "/api/enhance", body, args.clients, x.size, retry=True)
        lv = asyncio.run(live(port, x))
        rss.stop.set()
        rss.join()
    finally:
        server.terminate()
        server.wait(30)
    mb = 1 / 2**20
    e2e = lv["block_ms"] + lv["rtt_median"] + lv["algorithmic_ms"]
    lines = [
        "# cspec serve under load", "",
        "Command: `.venv/bin/python benchmarks/serve_load.py"
        + (f" --clients {args.clients}" if args.clients != 20 else "")
        + (f" --serve-args '{args.serve_args}'" if args.serve_args else "")
        + (f" --note '{args.note}'" if args.note else "") + "`", "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores "
        f"({psutil.cpu_count(logical=False)} physical), Python {platform.python_version()}; server "
        f"`{' '.join(['cspec', *cmd[3:5], 'PORT', *cmd[6:]])}`: {limits['workers']} worker(s), queue of "
        f"{limits['capacity']}, upload limit {limits['max_upload'] / 1e6:g} MB. Input: {what}, 16 kHz 16-bit WAV "
        f"({len(body) / 1e6:.2f} MB), model `tiny` (ONNX). {args.note}".rstrip(), "",
        f"## {args.clients} concurrent {args.seconds:g}-second uploads to POST /api/enhance", "",
        "| run | answered | results (200, full length) | busy (503 + Retry-After) | lost | requests sent | "
        "first / last result (s) | wall (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in (("one burst, no retry", first), ("burst, clients retry on 503", second)):
        lines.append(f"| {name} | {args.clients - r['lost']} / {args.clients} | {r['result']} | {r['busy']} | "
                     f"{r['lost']} | {r['tries']} | {r['first']:.2f} / {r['last']:.2f} | {r['wall']:.2f} |")
    lines += [
        "", f"Server memory (RSS): {base * mb:.0f} MiB after start-up and one warm-up request, peak "
        f"**{rss.peak * mb:.0f} MiB** over the whole run (sampled every 20 ms).", "",
        "## Live mode: measured end-to-end latency", "",
        f"A Python WebSocket client sends {lv['block_ms']:.0f} ms blocks of the same signal paced in real time "
        f"({lv['blocks']} blocks) to `/api/live` (model `tiny`, cspec.infer.Stream) and times each answer.", "",
        "| part | ms |", "| --- | --- |",
        f"| capture block (a block is sent once its last sample is in) | {lv['block_ms']:.1f} |",
        f"| round trip, median (network + server) | {lv['rtt_median']:.2f} |",
        f"| round trip, 95th percentile / max | {lv['rtt_p95']:.2f} / {lv['rtt_max']:.2f} |",
        f"| server processing per block, median | {lv['server_median']:.2f} |",
        f"| algorithmic latency (GTCRN look-ahead, 510 samples) | {lv['algorithmic_ms']:.2f} |",
        f"| **end-to-end = block + median round trip + algorithmic** | **{e2e:.1f}** |", "",
        f"Samples back: {lv['received']} of {lv['sent']} sent (the flush returns the last look-ahead). Not "
        "included: the sound card's input and output buffers of a browser (the page shows the same sum, measured in "
        "the browser), and the page's 30 ms playback jitter buffer.", "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    ok = first["lost"] == 0 and second["lost"] == 0 and second["result"] == args.clients
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
