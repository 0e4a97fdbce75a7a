"""The thread policy of phase retrieval: the caller's thread count is restored, and the result does not depend
on it (the single-thread loop gives the previous multi-threaded path's output up to float rounding)."""

from __future__ import annotations

import pytest
import torch

from cspec.phase import _threads, fast_griffin_lim, reconstruct
from cspec.spectral.stft import STFTConfig, stft

CFG = STFTConfig(512, 128, window="hann", pad_mode="constant")


@pytest.fixture
def two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


@pytest.mark.parametrize("method", ["fgla", "gla", "pghi+fgla", "rtisi"])
def test_caller_threads_are_restored_and_output_is_the_single_thread_one(speech, two_threads, method, monkeypatch):
    x = speech[:24000]
    mag = stft(x, CFG).abs()
    seen = []
    real_fft = torch.fft.rfft

    def spy(*args, **kwargs):  # the thread count inside the loop
        seen.append(torch.get_num_threads())
        return real_fft(*args, **kwargs)

    monkeypatch.setattr(torch.fft, "rfft", spy)
    out = reconstruct(mag, method, 8, CFG, x.shape[-1])
    monkeypatch.undo()
    assert torch.get_num_threads() == 2 and set(seen) == {1}
    torch.set_num_threads(1)
    single = reconstruct(mag, method, 8, CFG, x.shape[-1])
    torch.set_num_threads(2)
    assert torch.equal(out, single)  # the same loop on the same one thread: bit for bit
    if method != "rtisi":  # the previous path: the caller's two threads throughout
        monkeypatch.setattr(_threads, "SINGLE_THREAD_WORK", 0)
        previous = reconstruct(mag, method, 8, CFG, x.shape[-1])
        torch.testing.assert_close(out, previous, rtol=0, atol=1e-5 * float(out.abs().max()))


def test_threads_are_restored_when_the_loop_raises(two_threads):
    mag = stft(torch.randn(4000), CFG).abs()

    def stop(n, spec):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fast_griffin_lim(mag, 3, CFG, callback=stop)  # an interrupt inside the single-thread loop
    assert torch.get_num_threads() == 2


def test_large_problems_keep_the_callers_threads(two_threads):
    assert _threads.threads_for(_threads.SINGLE_THREAD_WORK, torch.device("cpu")) == 2
    assert _threads.threads_for(_threads.SINGLE_THREAD_WORK - 1, torch.device("cpu")) == 1
    assert _threads.threads_for(10, torch.device("meta")) == 2  # accelerators: no CPU threads to save
