"""cspec serve on the command line: bad options are one line and exit 2; the real server answers, binds to
127.0.0.1 by default, and Ctrl-C stops it cleanly (exit 130, no traceback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil

from cspec.cli import main

from .conftest import free_port


def test_bad_options_are_one_line(capsys):
    for argv, want in [(["--port", "70000"], "--port must be 1-65535"),
                       (["--workers", "2", "--queue", "1"], "--queue >= --workers"),
                       (["--model-dir", "/nonexistent/model"], "not a model folder"),
                       (["--port", "x"], "invalid int value")]:
        try:
            rc = main(["serve", *argv])
        except SystemExit as exc:  # argparse's own errors
            rc = exc.code
        err = capsys.readouterr().err
        assert rc == 2 and want in err and len(err.strip().splitlines()) == 1, err


def test_serves_on_loopback_and_ctrl_c_stops_cleanly():
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "cspec", "serve", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))
    try:
        deadline, body = time.monotonic() + 30, None
        while body is None and time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/models", timeout=2).read()
            except OSError:
                time.sleep(0.2)
        assert body is not None and b'"tiny"' in body
        listening = [c.laddr for c in psutil.Process(proc.pid).net_connections("tcp") if c.status == "LISTEN"]
        assert [(a.ip, a.port) for a in listening] == [("127.0.0.1", port)]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert out.startswith(f"cspec serve: http://127.0.0.1:{port}/")
