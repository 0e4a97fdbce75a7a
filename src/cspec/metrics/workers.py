"""Crash-safe scoring: files are scored in worker processes, and a worker that dies costs one metric of one file.

The metric packages run C code (the ITU-T PESQ reference code, onnxruntime, soxr, libsndfile) that can kill the
process it runs in -- P.862's code wrote past its 50-utterance arrays and died with SIGSEGV on a few minutes of
speech, and the out-of-memory killer sends SIGKILL. No such death may take a report down, so
:func:`run_pool` never computes a metric in the calling process. Each of ``jobs`` spawned workers takes one file
at a time and sends back the result of every step (one metric group, :func:`cspec.metrics.report.plan`) as soon
as it has it. When a worker dies the parent knows which step it was in: that step's metrics get NaN with the
reason ``crashed (signal N)``, a fresh worker carries on with the file's remaining steps, and every other file
and value is kept. (``concurrent.futures.ProcessPoolExecutor`` cannot do this: one dead worker breaks the whole
pool and fails every pending file.)
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from contextlib import contextmanager
from multiprocessing.connection import wait
from typing import Callable

__all__ = ["run_pool", "crash_reason"]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def crash_reason(exitcode: int | None) -> str:
    """``crashed (signal 11)`` for a worker killed by a signal, ``crashed (exit code N)`` otherwise."""
    if exitcode is not None and exitcode < 0:
        hint = ": killed, out of memory?" if -exitcode == signal.SIGKILL else ""
        return f"crashed (signal {-exitcode}{hint})"
    return f"crashed (exit code {exitcode})"


@contextmanager
def _blas_one_thread():
    """Limit the already loaded BLAS/OpenMP pools to one thread (threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield


@contextmanager
def _one_thread_env():
    """Children inherit one-thread settings for OpenMP/BLAS/numba (spawned workers read them at import)."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _serve(conn, names: tuple[str, ...], worker_init: Callable[[], None] | None) -> None:
    """A worker's life: score the files it is sent, one message per step, until it gets ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the workers
    import torch

    from cspec.metrics.report import score_parts

    torch.set_num_threads(1)
    if worker_init is not None:
        worker_init()
    with _blas_one_thread():
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            index, pair, skip, known = task
            for message in score_parts(pair, names, skip, known):
                conn.send((index, message))
            conn.send((index, ("done",)))


class _File:
    """What the parent knows about one file: the steps done, or why the whole file failed."""

    def __init__(self) -> None:
        self.parts: dict = {}
        self.loaded = False
        self.failed: str | None = None

    def known(self) -> dict:
        out: dict = {}
        for (phase, _group), (values, _reasons) in self.parts.items():
            out.setdefault(phase, {}).update(values)
        return out


class _Worker:
    """One spawned process serving ``target(conn, *args)`` over a pipe; ``index``: the task it holds (None when
    idle). Shared by :func:`run_pool` and :func:`cspec.metrics.pool.run_tasks`."""

    def __init__(self, ctx, target: Callable, args: tuple) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child, *args), daemon=True)
        self.proc.start()
        child.close()
        self.index: int | None = None

    def give(self, index: int, task: tuple) -> bool:
        try:
            self.conn.send(task)
        except OSError:  # died while idle
            return False
        self.index = index
        return True

    def stop(self, kill: bool) -> None:
        if not kill:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        self.conn.close()


def run_pool(pairs, names: tuple[str, ...], jobs: int, on_done=None, worker_init=None) -> list[dict]:
    """Score ``pairs`` in ``jobs`` crash-safe workers; see :func:`cspec.metrics.report.evaluate_pairs`."""
    from cspec.metrics.report import build_row, plan

    files = [_File() for _ in pairs]
    rows: list[dict | None] = [None] * len(pairs)
    queue = deque(range(len(pairs)))
    workers: list[_Worker] = []
    ctx = multiprocessing.get_context("spawn")

    def finish(i: int) -> None:
        rows[i] = build_row(pairs[i], names, files[i].parts, files[i].failed)
        if on_done:
            on_done(rows[i])

    def receive(i: int, message: tuple) -> bool:
        kind, f = message[0], files[i]
        if kind == "loaded":
            f.loaded = True
        elif kind == "failed":
            f.failed = message[1]
        elif kind == "part":
            f.parts[(message[1], message[2])] = (message[3], message[4])
        elif kind == "done":
            finish(i)
            return True
        return False

    def died(w: _Worker) -> None:
        w.proc.join()
        i, f, reason = w.index, files[w.index], crash_reason(w.proc.exitcode)
        if not f.loaded:
            f.failed = f"{reason} while reading the files"
        else:
            steps = [(phase, group, members) for phase, group, members in plan(pairs[i], names)
                     if (phase, group) not in f.parts]
            if steps:
                _phase, _group, members = steps[0]
                f.parts[(_phase, _group)] = ({n: float("nan") for n in members}, {n: reason for n in members})
        if f.failed is not None or len(f.parts) == len(plan(pairs[i], names)):
            finish(i)
        else:
            queue.appendleft(i)  # the rest of this file, in a fresh worker
        workers.remove(w)
        w.stop(kill=True)

    clean = False
    try:
        with _one_thread_env():
            while queue or any(w.index is not None for w in workers):
                for w in [w for w in workers if w.index is None]:
                    while queue and w.index is None:
                        i = queue.popleft()
                        if not w.give(i, (i, pairs[i], frozenset(files[i].parts), files[i].known())):
                            queue.appendleft(i)
                            workers.remove(w)
                            w.stop(kill=True)
                            break
                while queue and len(workers) < jobs:
                    w = _Worker(ctx, _serve, (names, worker_init))
                    workers.append(w)
                    i = queue.popleft()
                    if not w.give(i, (i, pairs[i], frozenset(files[i].parts), files[i].known())):
                        queue.appendleft(i)
                busy = [w for w in workers if w.index is not None]
                if not busy:
                    continue
                wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
                for w in busy:
                    try:
                        while w.index is not None and w.conn.poll():
                            i, message = w.conn.recv()
                            if receive(i, message):
                                w.index = None
                    except (EOFError, OSError):
                        pass
                    if w.index is not None and not w.proc.is_alive():
                        died(w)
        clean = True
    finally:
        for w in workers:
            w.stop(kill=not clean)
    return rows  # type: ignore[return-value]
