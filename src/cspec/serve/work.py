"""The work queue and the jobs of the page.

:class:`WorkQueue` runs work in a small thread pool and holds at most ``capacity`` pieces of work at once (running
plus waiting): one more is refused with :class:`Busy` (HTTP 503 with ``Retry-After``) instead of piling up
uploads in memory. :class:`JobStore` keeps the page's jobs (state, progress, result files) in memory, at most
``max_jobs`` of them, each for ``ttl`` seconds after it ends; a full store refuses a new job with :class:`Busy`.
"""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

__all__ = ["Busy", "WorkQueue", "Job", "JobStore"]


class Busy(Exception):
    """The server holds as much work as it may; try again later."""


class WorkQueue:
    """A thread pool of ``workers`` threads that accepts at most ``capacity`` pieces of work at a time."""

    def __init__(self, workers: int = 1, capacity: int = 4) -> None:
        if workers < 1 or capacity < workers:
            raise ValueError(f"need workers >= 1 and capacity >= workers, got {workers}, {capacity}")
        self.workers, self.capacity = workers, capacity
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cspec-serve")
        self._lock = threading.Lock()
        self._held = 0
        self.peak = 0  # the most pieces of work held at once

    @property
    def held(self) -> int:
        return self._held

    def submit(self, fn, *args) -> Future:
        """Run ``fn(*args)`` in the pool; :class:`Busy` when ``capacity`` pieces of work are already held."""
        with self._lock:
            if self._held >= self.capacity:
                raise Busy(f"busy: {self._held} jobs are running or waiting (the limit is {self.capacity}); "
                           "try again in a few seconds")
            self._held += 1
            self.peak = max(self.peak, self._held)
        try:
            fut = self._pool.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        fut.add_done_callback(self._release)
        return fut

    def _release(self, _fut) -> None:
        with self._lock:
            self._held -= 1

    def shutdown(self) -> None:
        """Drop the waiting work and let the running work end (without waiting for it)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Job:
    """One job of the page: its state (``queued``, ``running``, ``done``, ``error``), stage and progress (0-1),
    one-line error, result (names, scores, notes) and files (name -> (bytes, media type))."""

    task: str
    name: str
    id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    state: str = "queued"
    stage: str = "waiting in the queue"
    progress: float = 0.0
    error: str | None = None
    result: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    created: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def update(self, progress: float, stage: str) -> None:
        self.state, self.stage, self.progress = "running", stage, round(float(progress), 3)

    def finish(self, error: str | None = None) -> None:
        self.state, self.error, self.ended = ("error" if error else "done"), error, time.monotonic()
        self.stage, self.progress = ("failed" if error else "done"), (self.progress if error else 1.0)

    def public(self, prefix: str) -> dict:
        """What ``GET /api/jobs/{id}`` answers: no bytes, URLs for the files."""
        out = {"id": self.id, "task": self.task, "name": self.name, "state": self.state, "stage": self.stage,
               "progress": self.progress, "error": self.error}
        if self.state == "done":
            out["result"] = dict(self.result, files={k: f"{prefix}/{self.id}/files/{k}" for k in self.files})
        return out


class JobStore:
    """Jobs by id, at most ``max_jobs``; an ended job is dropped ``ttl`` seconds after it ended, or earlier (the
    oldest ended first) when room is needed."""

    def __init__(self, max_jobs: int = 32, ttl: float = 900.0) -> None:
        self.max_jobs, self.ttl = max_jobs, ttl
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._jobs)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, j in self._jobs.items() if j.ended is not None and now - j.ended > self.ttl]:
            del self._jobs[key]

    def add(self, job: Job) -> Job:
        with self._lock:
            self._expire()
            if len(self._jobs) >= self.max_jobs:
                ended = sorted((j for j in self._jobs.values() if j.ended is not None), key=lambda j: j.ended)
                if not ended:
                    raise Busy(f"busy: {len(self._jobs)} jobs are in progress; try again in a few seconds")
                del self._jobs[ended[0].id]
            self._jobs[job.id] = job
            return job

    def get(self, key: str) -> Job | None:
        with self._lock:
            self._expire()
            return self._jobs.get(key)

    def drop(self, key: str) -> None:
        with self._lock:
            self._jobs.pop(key, None)
