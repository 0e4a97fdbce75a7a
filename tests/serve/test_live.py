"""The live WebSocket: the enhanced blocks put end to end equal the model's offline output on the whole input
(cspec.infer.Stream is exact), timestamps come back, the latency announced is GTCRN's look-ahead (510 samples,
31.9 ms); a foreign Origin, a wrong rate and a malformed block are refused."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from cspec.infer import resolve_model
from cspec.serve import create_app

from .conftest import noisy_tone


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(tmp_dir=str(tmp_path_factory.mktemp("t")), max_live=1)) as c:
        yield c


def test_blocks_end_to_end_equal_offline_output(client):
    x = noisy_tone(1.0, 16000, seed=5)[:, 0]
    outs, stamps = [], []
    with client.websocket_connect("/api/live?model=tiny&rate=16000") as ws:
        ready = ws.receive_json()
        assert ready == {"type": "ready", "model": "tiny", "model_rate": 16000, "latency_samples": 510,
                         "algorithmic_ms": 31.88}  # GTCRN: n_fft 512 with a sqrt-Hann window, (512 - 2) samples
        for i, pos in enumerate(range(0, x.size, 320)):
            ws.send_bytes(struct.pack("<d", 1000.0 + i) + x[pos: pos + 320].astype("<f4").tobytes())
            msg = ws.receive_bytes()
            t, server_ms = struct.unpack_from("<dd", msg)
            stamps.append(t)
            assert server_ms >= 0
            outs.append(np.frombuffer(msg, "<f4", offset=16))
        assert sum(o.size for o in outs) >= x.size - 510  # all but the look-ahead is out before the flush
        ws.send_text(json.dumps({"type": "stop"}))
        last = ws.receive_bytes()
        assert struct.unpack_from("<d", last)[0] == -1.0
        outs.append(np.frombuffer(last, "<f4", offset=16))
    assert stamps == [1000.0 + i for i in range(len(stamps))]
    y = np.concatenate(outs)
    model = resolve_model("tiny", "torch").eval()
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])["wave"][0].numpy()
    assert y.shape == ref.shape and np.abs(y - ref).max() < 1e-4


def test_refusals(client):
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/api/live", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_json()
    assert info.value.code == 1008
    with client.websocket_connect("/api/live?model=tiny&rate=48000") as ws:
        msg = ws.receive_json()
        assert msg["type"] == "error" and "16000 Hz, not 48000 Hz" in msg["error"]
    with client.websocket_connect("/api/live?model=nope") as ws:
        assert "no live model 'nope'" in ws.receive_json()["error"]
    with client.websocket_connect("/api/live?model=tiny") as ws:
        assert ws.receive_json()["type"] == "ready"
        with client.websocket_connect("/api/live?model=tiny") as second:  # max_live=1
            assert second.receive_json()["error"].startswith("busy")
        ws.send_bytes(b"\x00" * 9)  # not a float64 + float32s
        assert "float64 timestamp" in ws.receive_json()["error"]
