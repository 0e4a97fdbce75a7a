"""A crash-safe process pool for whole tasks: a worker that dies costs only the task it was running.

The per-step pool of :mod:`cspec.metrics.workers` resumes a file after the metric group that crashed; this one
is for tasks that are cheap and all-or-nothing (one separated file: loading, the permutation and its scores).
``fn(task)`` runs in one of ``jobs`` spawned workers (one torch/BLAS thread each, SIGINT ignored: Ctrl-C is the
parent's, which stops them). When a worker dies (a segfault in C code, the out-of-memory killer), the task it
held gets ``on_crash(task, "crashed (signal 11)")`` as its result, a fresh worker takes over, and every other
result is kept -- which ``concurrent.futures.ProcessPoolExecutor`` cannot do (one dead worker breaks it).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from multiprocessing.connection import wait
from typing import Any, Callable

from cspec.metrics.workers import _blas_one_thread, _one_thread_env, _Worker, crash_reason

__all__ = ["run_tasks"]


def _serve(conn, fn: Callable) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)
    with _blas_one_thread():
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            index, item = task
            conn.send((index, fn(item)))


def run_tasks(fn: Callable[[Any], Any], tasks: list, jobs: int, on_crash: Callable[[Any, str], Any],
              on_done: Callable[[Any], None] | None = None) -> list:
    """``[fn(t) for t in tasks]`` computed in ``jobs`` crash-safe spawned workers, in ``tasks`` order.

    ``fn`` must be a picklable module-level function that never raises (it returns its failures as values);
    ``on_crash(task, reason)`` gives the result of a task whose worker died; ``on_done(result)`` is called as
    each result arrives (a progress bar).
    """
    results: list = [None] * len(tasks)
    queue = deque(range(len(tasks)))
    workers: list[_Worker] = []
    ctx = multiprocessing.get_context("spawn")

    def finish(i: int, value) -> None:
        results[i] = value
        if on_done:
            on_done(value)

    clean = False
    try:
        with _one_thread_env():
            while queue or any(w.index is not None for w in workers):
                for w in list(workers):
                    if w.index is None and queue:
                        i = queue.popleft()
                        if not w.give(i, (i, tasks[i])):
                            queue.appendleft(i)
                            workers.remove(w)
                            w.stop(kill=True)
                while queue and len(workers) < jobs:
                    w = _Worker(ctx, _serve, (fn,))
                    workers.append(w)
                    i = queue.popleft()
                    if not w.give(i, (i, tasks[i])):
                        queue.appendleft(i)
                busy = [w for w in workers if w.index is not None]
                if not busy:
                    continue
                wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
                for w in busy:
                    try:
                        if w.conn.poll():
                            i, value = w.conn.recv()
                            w.index = None
                            finish(i, value)
                    except (EOFError, OSError):
                        pass
                    if w.index is not None and not w.proc.is_alive():
                        w.proc.join()
                        finish(w.index, on_crash(tasks[w.index], crash_reason(w.proc.exitcode)))
                        workers.remove(w)
                        w.stop(kill=True)
        clean = True
    finally:
        for w in workers:
            w.stop(kill=not clean)
    return results
