"""The thread policy of phase retrieval: small per-iteration transforms run on one intra-op thread.

An iteration of GLA/FGLA on one clip is a few hundred small FFTs and element-wise passes of well under a
millisecond each.  Spreading each of them over torch's intra-op threads (OpenMP) gains at most 2x on an idle
machine and loses far more as soon as another process holds a core: every kernel then waits at a barrier for
the thread that is not scheduled (measured in ``benchmarks/phase_retrieval.py --per-clip``: one clip took
0.27-4.7 s on two threads beside a busy core against 0.12 s on one).  So below :data:`SINGLE_THREAD_WORK`
samples per iteration (a minute of audio at hop 128) the loop runs on one thread, inside a context manager
that restores the caller's setting; larger problems (batches of many clips) keep the caller's threads.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

__all__ = ["SINGLE_THREAD_WORK", "intra_op_threads", "threads_for"]

#: below this many samples transformed per iteration (batch x frames x n_fft), CPU loops run on one thread
SINGLE_THREAD_WORK = 2**22


def threads_for(work: int, device: torch.device) -> int:
    """Intra-op threads for a loop that transforms ``work`` samples per iteration on ``device``."""
    current = torch.get_num_threads()
    if device.type == "cpu" and work < SINGLE_THREAD_WORK:
        return 1
    return current


@contextmanager
def intra_op_threads(n: int):
    """Cap torch's intra-op threads at ``n`` (process-wide) inside the block and restore them afterwards, also
    when the block raises."""
    old = torch.get_num_threads()
    if n < old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n < old:
            torch.set_num_threads(old)
