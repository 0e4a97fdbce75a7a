"""The HTTP API of cspec serve: answers equal the Python API's (Enhancer, Separator) and the CLI's (cspec
reconstruct, cspec enhance's one-line errors); limits (413, 503 + Retry-After); same origin only; no upload left
on disk; the client's file name never used as a path."""

from __future__ import annotations

import io
import threading
import zipfile

import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

from cspec import audio
from cspec.cli import main
from cspec.infer import Enhancer, Separator
from cspec.metrics.dnsmos import dnsmos
from cspec.models import build, save
from cspec.serve import create_app
from cspec.serve.upload import display_name

from .conftest import noisy_tone, wav_of

Q16 = 1 / 32768 + 1e-6  # one step of 16-bit PCM, the answers' sample format


def _read(data: bytes) -> tuple[np.ndarray, int]:
    y, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return y.T, sr


@pytest.fixture
def client(tmp_path):
    (tmp_path / "tmp").mkdir()
    with TestClient(create_app(tmp_dir=str(tmp_path / "tmp"), max_upload=2_000_000)) as c:
        yield c


def test_enhance_equals_python_api_at_input_rate_and_leaves_no_file(client, tmp_path):
    x = noisy_tone(1.5, 22050, channels=2)
    r = client.post("/api/enhance", files={"file": ("../../etc/my talk.wav", wav_of(x, 22050, "FLOAT"))},
                    data={"model": "tiny"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.headers["content-disposition"] == 'attachment; filename="my talk_enhanced.wav"'
    assert "access-control-allow-origin" not in r.headers
    y, sr = _read(r.content)
    ref = Enhancer.from_pretrained("tiny").enhance(torch.from_numpy(x.T.copy()), 22050).numpy()
    assert sr == 22050 and y.shape == ref.shape == (2, x.shape[0])
    assert np.abs(y - np.clip(ref, -1, 1)).max() <= Q16
    assert list((tmp_path / "tmp").iterdir()) == []


def test_bad_file_is_the_clis_one_line_error(client, tmp_path):
    bad = b"RIFF\x00\x00\x00\x00WAVEnot audio"
    r = client.post("/api/enhance", files={"file": ("bad.wav", bad)}, data={"model": "tiny"})
    assert r.status_code == 400 and list(r.json()) == ["error"]
    (tmp_path / "bad.wav").write_bytes(bad)
    import contextlib

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["enhance", str(tmp_path / "bad.wav"), "-o", str(tmp_path / "out"), "--model", "tiny"]) == 1
    line = next(ln for ln in err.getvalue().splitlines() if ln.startswith("failed"))
    assert line == f"failed  {tmp_path / 'bad.wav'}: " + r.json()["error"].removeprefix("bad.wav: ")
    assert "\n" not in r.json()["error"] and r.json()["error"].startswith("bad.wav: not a readable audio file")
    assert list((tmp_path / "tmp").iterdir()) == []
    good = wav_of(noisy_tone(0.3, 16000), 16000)
    for body, data, want in [(good, {"model": "nope"}, "no enhance model 'nope' on this server; choose one of: default, "),
                             (b"", {}, "x.wav: the upload is empty"),
                             (good, {"method": "magic"}, "unknown phase retrieval method 'magic'")]:
        r = client.post("/api/reconstruct" if "method" in data else "/api/enhance", files={"file": ("x.wav", body)},
                        data=data)
        assert r.status_code == 400 and want in r.json()["error"]
    r = client.post("/api/enhance", data={"model": "tiny"}, files={"other": ("x.wav", b"1")})
    assert r.status_code == 400 and "field 'file'" in r.json()["error"]


def test_too_large_is_413_and_foreign_origin_403(client):
    big = wav_of(np.zeros((600_000, 2), np.float32), 16000)  # 2.4 MB > the 2 MB limit
    r = client.post("/api/enhance", files={"file": ("big.wav", big)})
    assert r.status_code == 413 and "limit is 2.0 MB" in r.json()["error"]
    small = wav_of(noisy_tone(0.5, 16000), 16000)
    r = client.post("/api/enhance", files={"file": ("x.wav", small)}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = client.options("/api/enhance", headers={"Origin": "http://evil.example",
                                                 "Access-Control-Request-Method": "POST"})
    assert r.status_code == 403 and not any(k.startswith("access-control-") for k in r.headers)
    r = client.post("/api/enhance", files={"file": ("x.wav", small)}, headers={"Origin": "http://testserver"})
    assert r.status_code == 200 and not any(k.startswith("access-control-") for k in r.headers)


def test_full_queue_answers_503_busy_then_works_again(tmp_path):
    app = create_app(tmp_dir=str(tmp_path), workers=1, capacity=1)
    gate = threading.Event()
    with TestClient(app) as c:
        held = app.state.queue.submit(gate.wait)  # the one place in the queue is taken
        body = wav_of(noisy_tone(0.5, 16000), 16000)
        r = c.post("/api/enhance", files={"file": ("x.wav", body)}, data={"model": "tiny"})
        assert r.status_code == 503 and r.headers["retry-after"] == "2" and r.json()["error"].startswith("busy")
        r = c.post("/api/jobs", files={"file": ("x.wav", body)}, data={"task": "enhance", "model": "tiny"})
        assert r.status_code == 503 and len(app.state.jobs) == 0  # the refused job is not kept
        gate.set()
        held.result(5)
        assert c.post("/api/enhance", files={"file": ("x.wav", body)}, data={"model": "tiny"}).status_code == 200
        assert app.state.queue.held == 0 and app.state.queue.peak == 1


def test_separate_zip_equals_separator_with_any_model_folder(tmp_path):
    torch.manual_seed(0)
    model = build("convtasnet", n_filters=32, kernel_size=16, bn_chan=16, hid_chan=32, skip_chan=16, n_blocks=3,
                  n_repeats=1, sample_rate=16000).eval()
    folder = save(model, tmp_path / "mysep")
    x = noisy_tone(1.0, 24000, seed=1)
    with TestClient(create_app([folder], tmp_dir=str(tmp_path))) as c:
        assert c.get("/api/models").json()["separate"] == ["sep2", "mysep"]  # the bundled separator, then the folder given
        r = c.post("/api/separate", files={"file": ("mix.flac", wav_of(x, 24000, "FLOAT"))}, data={"model": "mysep"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    ref = Separator.from_pretrained(folder, backend="torch").separate(torch.from_numpy(x[:, 0].copy()), 24000)
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert z.namelist() == ["mix_s1.wav", "mix_s2.wav"]
        for i, name in enumerate(z.namelist()):
            y, sr = _read(z.read(name))
            assert sr == 24000 and y.shape == (1, x.shape[0])
            assert np.abs(y[0] - np.clip(ref[i].numpy(), -1, 1)).max() <= Q16


def test_reconstruct_equals_the_cli(client, tmp_path):
    x = noisy_tone(1.0, 16000, seed=2)
    (tmp_path / "in.wav").write_bytes(wav_of(x, 16000))
    assert main(["reconstruct", str(tmp_path / "in.wav"), "-o", str(tmp_path / "cli.wav"), "--method", "pghi"]) == 0
    r = client.post("/api/reconstruct", files={"file": ("in.wav", wav_of(x, 16000))}, data={"method": "pghi"})
    assert r.status_code == 200
    y, sr = _read(r.content)
    ref, rate = sf.read(tmp_path / "cli.wav", dtype="float32")
    assert sr == rate == 16000 and np.abs(y[0] - ref).max() <= Q16


def test_job_progress_figures_and_dnsmos(client):
    x = noisy_tone(2.0, 16000, seed=4)
    r = client.post("/api/jobs", files={"file": ("a.wav", wav_of(x, 16000))}, data={"task": "enhance", "model": "tiny"})
    assert r.status_code == 202
    seen = set()
    for _ in range(400):
        job = client.get(f"/api/jobs/{r.json()['id']}").json()
        seen.add(job["state"])
        if job["state"] in ("done", "error"):
            break
        threading.Event().wait(0.05)
    assert job["state"] == "done" and job["progress"] == 1.0, job
    files = job["result"]["files"]
    for key in ("spectrogram.png", "phase.png"):
        png = client.get(files[key]).content
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") > 200  # IHDR width
    out, sr = _read(client.get(files["enhanced.wav"]).content)
    ref = dnsmos(out[0], sr)  # the scores of what the page plays, computed apart
    assert abs(job["result"]["scores"]["enhanced"]["ovrl"] - float(ref["dnsmos_ovrl"])) < 0.02
    d = client.get(files["enhanced.wav"] + "?download=1")
    assert d.headers["content-disposition"] == 'attachment; filename="a_enhanced.wav"'
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get(files["enhanced.wav"].replace("enhanced.wav", "..%2F..%2Fetc%2Fpasswd")).status_code == 404


def test_display_names_are_never_paths():
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\x\\a.wav") == "a.wav"
    assert display_name('a"b\r\n.wav') == "a_b_.wav"
    assert display_name("..") == "upload" and display_name(None) == "upload"
    assert audio.RESAMPLER  # the decoding goes through cspec.audio
