"""Writing outputs where the file system says no, float formats kept, temporary files never left behind.

The faults are real: a path through a file, a read-only and a full tmpfs mounted in a private mount namespace
(``unshare -rm``), a folder that another user may not write (``setpriv`` to nobody when the tests run as root).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from cspec.audio import BlockWriter, check_target, load, save
from cspec.audio.fs import is_temp_name, os_reason, remove_stale
from cspec.errors import AudioError, AudioWarning

SR = 16000


def _in_namespace(mount_opts: str, code: str, tmp_path) -> subprocess.CompletedProcess:
    """Run ``code`` (Python) with a fresh tmpfs mounted at ``tmp_path/mnt`` with ``mount_opts``, privately."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = f"mount -t tmpfs -o {mount_opts} tmpfs {mnt} && exec {sys.executable} -c \"$0\""
    return subprocess.run(["unshare", "-rm", "sh", "-c", script, textwrap.dedent(code).replace("MNT", str(mnt))],
                          capture_output=True, text=True, timeout=60)


def _as_nobody(code: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code]
    if os.geteuid() == 0:  # root writes everywhere: drop to nobody, as a user would be
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_reasons_follow_errno():
    assert os_reason(OSError(errno.EACCES, "x")) == "permission denied"
    assert os_reason(OSError(errno.ENOSPC, "x")).startswith("disk full")
    assert os_reason(OSError(errno.EROFS, "x")) == "read-only file system"
    assert os_reason(OSError(errno.ENOTDIR, "x")).startswith("not a directory")
    assert os_reason(OSError(errno.ENXIO, "x")) == os.strerror(errno.ENXIO).lower()


def test_path_through_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(AudioError, match=r"afile/out.wav: cannot write \(not a directory"):
        check_target(tmp_path / "afile" / "out.wav")
    with pytest.raises(AudioError, match="not a directory"):
        save(tmp_path / "afile" / "sub" / "out.wav", torch.zeros(100), SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_read_only_file_system(tmp_path):
    r = _in_namespace("ro,size=1m", """
        import torch
        from cspec.audio import save
        from cspec.errors import AudioError
        try:
            save("MNT/sub/out.wav", torch.zeros(100), 16000)
        except AudioError as e:
            print(e)
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "sub/out.wav: cannot write (read-only file system" in r.stdout


def test_disk_full_names_the_reason_and_leaves_nothing(tmp_path):
    r = _in_namespace("size=64k", """
        import os, torch
        from cspec.audio import BlockWriter, save
        from cspec.errors import AudioError
        for how in ("save", "blocks"):
            try:
                if how == "save":
                    save("MNT/out.wav", torch.zeros(80000) + 0.1, 16000)
                else:
                    with BlockWriter("MNT/out.wav", 16000, 1) as w:
                        for _ in range(10):
                            w.write(torch.zeros(1, 8000) + 0.1)
            except AudioError as e:
                print(how, e)
        print("left:", os.listdir("MNT"))
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("save ") and lines[0].endswith("cannot write (disk full (no space left on the device))")
    assert lines[1].startswith("blocks ") and "disk full" in lines[1]
    assert lines[2] == "left: []"


@pytest.fixture
def public_tmp():
    """A folder that every user may enter (pytest's own are private to their owner)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        os.chmod(d, 0o755)
        yield Path(d)


def test_permission_denied(public_tmp):
    folder = public_tmp / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    r = _as_nobody(f"""
from cspec.audio import check_target
from cspec.errors import AudioError
try:
    check_target({str(folder / 'out.wav')!r})
except AudioError as e:
    print(e)
""")
    assert r.stdout.strip() == f"{folder / 'out.wav'}: cannot write (permission denied)", r.stderr


def test_symlink_loop_and_unreadable_inputs(public_tmp):
    (public_tmp / "loop.wav").symlink_to(public_tmp / "loop.wav")
    with pytest.raises(AudioError, match="symbolic links"):
        load(public_tmp / "loop.wav")
    secret = public_tmp / "secret.wav"
    sf.write(secret, np.zeros(100), SR)
    secret.chmod(0o600)
    r = _as_nobody(f"""
from cspec.audio import load
from cspec.errors import AudioError
try:
    load({str(secret)!r})
except AudioError as e:
    print(e)
""")
    assert r.stdout.strip() == f"{secret}: cannot read (permission denied)", r.stderr


@pytest.mark.parametrize("peak", [8.0, 10 ** (-90 / 20)])
def test_float_in_float_out(tmp_path, peak):
    rng = np.random.default_rng(0)
    x = (rng.uniform(-1, 1, SR) * peak).astype(np.float32)
    src = tmp_path / "in.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    save(tmp_path / "out.wav", x, SR, like=src)
    y, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert sf.info(tmp_path / "out.wav").subtype == "FLOAT"
    np.testing.assert_array_equal(y, x)  # neither clipped nor quantised
    save(tmp_path / "out.flac", np.clip(x, -1, 1), SR, like=src)  # FLAC has no float: its deepest integer format
    assert sf.info(tmp_path / "out.flac").subtype == "PCM_24"


def test_integer_formats_are_kept_and_quiet_ones_flagged(tmp_path):
    src = tmp_path / "in24.wav"
    sf.write(src, np.zeros(100), SR, subtype="PCM_24")
    save(tmp_path / "o.wav", np.full(100, 0.5), SR, like=src)
    assert sf.info(tmp_path / "o.wav").subtype == "PCM_24"
    with pytest.warns(AudioWarning, match=r"-90.0 dBFS, within 1.0 quantiser steps of PCM_16"):
        save(tmp_path / "quiet.wav", np.full(100, 10 ** (-90 / 20)), SR)


def test_interrupt_during_write_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        with open(args[0], "wb") as f:
            f.write(b"RIFF" + bytes(1000))
        raise KeyboardInterrupt

    import cspec.audio.io as audio_io

    monkeypatch.setattr(audio_io, "open_writer", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(tmp_path / "out.wav", np.zeros(100), SR)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    with pytest.raises(KeyboardInterrupt), BlockWriter(tmp_path / "b.wav", SR, 1) as w:
        w.write(np.zeros((1, 100)))
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".out.wav.{dead.pid}.0123abcd.part.wav"
    live = tmp_path / f".out.wav.{os.getppid()}.0123abcd.part.wav"  # a running process may still write it
    for f in (stale, live):
        f.write_bytes(bytes(100))
    assert is_temp_name(stale.name) and not is_temp_name("out.wav")
    save(tmp_path / "out.wav", np.zeros(100), SR)
    assert not stale.exists() and live.exists()
    assert remove_stale(tmp_path) == []


def test_float_files_have_no_time_stamp(tmp_path):
    """libsndfile's PEAK chunk of float WAV files holds the time of writing: without it, the same samples give the
    same bytes a second later (cspec reconstruct --seed promises the same file)."""
    import time

    import numpy as np

    from cspec import audio

    x = np.random.default_rng(0).uniform(-0.5, 0.5, 1600).astype(np.float32)
    audio.save(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    time.sleep(1.1)
    audio.save(tmp_path / "b.wav", x, 16000, subtype="FLOAT")
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert b"PEAK" not in (tmp_path / "a.wav").read_bytes()
