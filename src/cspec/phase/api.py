"""One entry point for phase retrieval: :func:`reconstruct` a waveform from an STFT magnitude."""

from __future__ import annotations

import torch

from cspec.errors import ConfigError
from cspec.phase.griffin_lim import check_magnitude, fast_griffin_lim
from cspec.phase.pghi import pghi, pghi_phase
from cspec.phase.rtisi import rtisi_la
from cspec.spectral.stft import STFTConfig, get_preset

__all__ = ["reconstruct", "METHODS", "LEARNED_ITERS"]

#: fast Griffin-Lim iterations after a learned phase when none are asked for
LEARNED_ITERS = 16

#: method name -> one line naming its source
METHODS = {
    "gla": "Griffin & Lim 1984: alternating projections (FGLA with momentum 0)",
    "fgla": "Perraudin, Balazs & Sondergaard 2013: fast Griffin-Lim, momentum 0.99",
    "rtisi": "Zhu, Beauregard & Wyse 2007: RTISI-LA, frame by frame with 3 look-ahead frames",
    "pghi": "Prusa, Balazs & Sondergaard 2017: phase gradient heap integration, no iterations",
    "pghi+fgla": "PGHI's phase as the initial phase of FGLA",
    "pghi+gla": "PGHI's phase as the initial phase of GLA",
    "learned": "a trained phase model (bundled 'phase': Ai & Ling 2023 NSPP predictor) + n_iter FGLA iterations",
}


def reconstruct(
    magnitude: torch.Tensor,
    method: str = "fgla",
    n_iter: int | None = 100,
    config: STFTConfig | str = "mpsenet",
    length: int | None = None,
    momentum: float = 0.99,
    init="random",
    seed: int = 0,
    lookahead: int = 3,
    tol: float = 1e-5,
    gamma: float | None = None,
    model="phase",
) -> torch.Tensor:
    """Waveform ``(..., samples)`` whose STFT magnitude approximates ``magnitude`` ``(..., freq, frames)``.

    Args:
        magnitude: ``|S|`` (a complex spectrogram is replaced by its modulus), any leading shape.
        method: one of :data:`METHODS` (``gla``, ``fgla``, ``rtisi``, ``pghi``, ``pghi+fgla``, ``pghi+gla``).
        n_iter: iterations of the iterative methods (for ``rtisi``: updates per frame, see
            :func:`cspec.phase.rtisi_la`); ignored by ``pghi``.  ``None`` uses the method's default
            (100 for the Griffin-Lim family, 20 for RTISI-LA).
        config: the STFT config or preset name ``|S|`` was computed with.
        length: output samples (default ``hop * (frames - 1)``; pass the original length to get it back).
        momentum: FGLA's alpha (``fgla`` and ``pghi+fgla``).
        init: initial phase of ``gla``/``fgla``: ``"random"``, ``"zeros"``, ``"pghi"``, a complex tensor or a
            tensor of phases.
        seed: seed of every random choice (random initial phase, PGHI's phase of negligible coefficients).
        lookahead: RTISI-LA's look-ahead frames.
        tol, gamma: PGHI's relative threshold and Gaussian window constant (see :func:`cspec.phase.pghi`).
        model: for ``learned``: the trained model family (bundled name, folder, or a
            :class:`cspec.infer.phase.LearnedPhase`); ``n_iter`` counts the FGLA iterations after its phase
            (``None``: 16; 0: the prediction alone) or a DeGLI model's blocks. It lives above this package and
            is imported only when asked for.
    """
    key = str(method).lower()
    if key not in METHODS:
        raise ConfigError(f"unknown phase retrieval method '{method}'; choose one of {', '.join(METHODS)}")
    cfg = get_preset(config)
    mag = check_magnitude(magnitude, cfg)
    if key == "learned":
        from cspec.infer.phase import learned_reconstruct  # a facade: the learned model lives above cspec.phase

        return learned_reconstruct(mag, cfg, n_iter, length, momentum, model)
    if key == "pghi":
        return pghi(mag, cfg, length, tol=tol, gamma=gamma, seed=seed)
    if key == "rtisi":
        return rtisi_la(mag, cfg, length, n_iter=20 if n_iter is None else n_iter, lookahead=lookahead)
    iters = 100 if n_iter is None else n_iter
    alpha = momentum if key.endswith("fgla") else 0.0
    start = "pghi" if key.startswith("pghi+") else init
    if isinstance(start, str) and start == "pghi":
        start = pghi_phase(mag, cfg, tol=tol, gamma=gamma, seed=seed)
    return fast_griffin_lim(mag, iters, cfg, length, momentum=alpha, init=start, seed=seed)
