"""Fixtures of the serve tests: test signals, a real uvicorn server on a free port (in a thread), and headless
Chromium driven by Selenium with Debian's chromium and chromedriver (never a downloaded browser or driver)."""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

CHROMIUM = os.environ.get("CSPEC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CSPEC_CHROMEDRIVER", "/usr/bin/chromedriver")


def noisy_tone(seconds: float, sr: int, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A voiced-like signal (220 Hz harmonics, 3 Hz syllable envelope) in white noise, ``(samples, channels)``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    voice = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = 0.2 * voice[:, None] + 0.03 * rng.standard_normal((t.size, channels))
    return x.astype(np.float32)


def wav_of(x: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, subtype=subtype, format="WAV")
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``create_app(**kwargs)`` served by uvicorn on 127.0.0.1:<free port> in a thread."""

    def __init__(self, **kwargs) -> None:
        import uvicorn

        from cspec.serve import create_app

        self.app = create_app(**kwargs)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_dir=str(tmp_path_factory.mktemp("serve-tmp")), workers=1, capacity=4)
    yield srv
    srv.stop()


def chrome(tmp: Path, fake_audio: Path | None = None):
    """Headless Chromium through Selenium, with Debian's binaries; fails (never skips) when they are missing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).is_file() and os.access(p, os.X_OK))]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install Debian's chromium and chromium-driver with 'make browsers'")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    args = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,1500",
            "--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--user-data-dir={tmp / 'chromium-profile'}"]
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}")
    for a in args:
        opts.add_argument(a)
    # an explicit driver path: Selenium Manager is not run, so nothing is downloaded (SE_OFFLINE: nor ever)
    os.environ.setdefault("SE_OFFLINE", "true")
    return webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chromium")
    fake = tmp / "mic.wav"
    sf.write(fake, noisy_tone(4.0, 48000, seed=3), 48000, subtype="PCM_16")
    driver = chrome(tmp, fake)
    yield driver
    driver.quit()
    shutil.rmtree(tmp / "chromium-profile", ignore_errors=True)
