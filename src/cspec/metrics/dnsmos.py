"""DNSMOS: non-intrusive MOS prediction (no reference needed), through the ``speechmos`` package.

* DNSMOS P.835 (Reddy, Gopal & Cutler, "DNSMOS P.835: a non-intrusive perceptual objective speech quality
  metric to evaluate noise suppressors", ICASSP 2022): SIG, BAK and OVRL, a CNN on the 16 kHz waveform whose
  raw outputs are mapped by the cubic polynomials published with the model (speechmos applies them).
* DNSMOS P.808 (Reddy, Gopal & Cutler, ICASSP 2021): one overall MOS from a 120-band log-mel spectrogram.

Both score 9.01 s windows every 1 s (a shorter clip is repeated up to 9.01 s) and average the windows, as in
Microsoft's reference script ``dnsmos_local.py``. The ONNX models ship inside speechmos, so this works offline.
cspec resamples to 16 kHz with soxr VHQ and runs onnxruntime with one thread per process (parallel jobs in
``cspec eval --jobs`` then do not fight over the cores).
"""

from __future__ import annotations

import os

import numpy as np

from cspec.metrics._common import MetricError, as_rows, at_rate, check_clip, check_flag, check_rate, restore

__all__ = ["dnsmos", "DNSMOS_RATE", "DNSMOS_KEYS"]

#: the rate the DNSMOS models take
DNSMOS_RATE = 16000
#: the names of the values :func:`dnsmos` returns
DNSMOS_KEYS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")
_MODELS: dict[bool, object] = {}


def _model(personalized: bool):
    if personalized in _MODELS:
        return _MODELS[personalized]
    try:
        import onnxruntime as ort
        from speechmos import dnsmos as sm
    except ImportError as exc:
        raise MetricError(f"DNSMOS needs the speechmos and onnxruntime packages ({exc}); pip install 'cspec[metrics]'")
    root = os.path.dirname(os.path.abspath(sm.__file__))
    primary = os.path.join(root, "pdnsmos_models" if personalized else "dnsmos_models", "sig_bak_ovr.onnx")
    p808 = os.path.join(root, "dnsmos_models", "model_v8.onnx")

    class _OneThread(sm.DNSMOS):
        def __init__(self, primary_model_path: str, p808_model_path: str) -> None:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            providers = ["CPUExecutionProvider"]
            self.primary_model_path = primary_model_path
            self.onnx_sess = ort.InferenceSession(primary_model_path, opts, providers=providers)
            self.p808_onnx_sess = ort.InferenceSession(p808_model_path, opts, providers=providers)

    _MODELS[personalized] = _OneThread(primary, p808)
    return _MODELS[personalized]


def _dnsmos_row(x: np.ndarray, sr: int, personalized: bool) -> tuple[float, float, float, float]:
    check_clip(None, x, sr)
    x = at_rate(x, sr, DNSMOS_RATE)
    peak = float(np.max(np.abs(x)))
    if peak > 1.0:
        raise MetricError(f"samples exceed full scale (peak {peak:.3f} > 1); DNSMOS scores audio in [-1, 1]")
    out = _model(personalized)(x.astype(np.float64), DNSMOS_RATE, personalized)
    vals = tuple(float(out[k]) for k in ("sig_mos", "bak_mos", "ovrl_mos", "p808_mos"))
    if not all(np.isfinite(vals)):
        raise MetricError("DNSMOS returned a non-finite score")
    return vals


def dnsmos(est, sr: int, *, personalized: bool = False) -> dict:
    """DNSMOS P.835 SIG/BAK/OVRL and P.808 MOS of ``est`` ``(..., samples)`` (tensor or array).

    Returns a dict with keys :data:`DNSMOS_KEYS`, one value per clip (range about 1 ... 5, higher is better).
    ``personalized`` uses the personalised-DNSMOS P.835 model (interfering talkers count as noise).
    A silent, non-finite or clipped (|x| > 1) clip raises :class:`MetricError`.
    """
    sr, personalized = check_rate(sr), check_flag("personalized", personalized)
    rows, lead, is_torch = as_rows(est, "estimate")
    vals = np.array([_dnsmos_row(rows[i], sr, personalized) for i in range(rows.shape[0])]).reshape(-1, 4)
    return {k: restore(vals[:, i], lead, is_torch) for i, k in enumerate(DNSMOS_KEYS)}
