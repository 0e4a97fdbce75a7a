"""Phase retrieval without learning: a waveform from an STFT magnitude.

* :func:`griffin_lim` - Griffin & Lim (1984); :func:`fast_griffin_lim` - Perraudin, Balazs & Sondergaard (2013)
* :func:`rtisi_la` - Zhu, Beauregard & Wyse (2007), frame by frame with look-ahead
* :func:`pghi` - Prusa, Balazs & Sondergaard (2017), non-iterative phase gradient heap integration
* :func:`reconstruct` - any of them (and PGHI-initialised GLA/FGLA) by name
* :class:`BlockReconstructor`, :func:`reconstruct_blockwise` - any of them on long signals, block by block in
  bounded memory, continuing the phase across blocks (:mod:`cspec.phase.blockwise`)

All take magnitudes ``(..., freq, frames)`` and return waveforms ``(..., samples)``; spectral convergence is
:func:`cspec.metrics.spectral.spectral_convergence`.
"""

from cspec.phase.api import METHODS, reconstruct
from cspec.phase.blockwise import BlockReconstructor, reconstruct_blockwise
from cspec.phase.griffin_lim import fast_griffin_lim, griffin_lim, initial_phasor
from cspec.phase.pghi import gaussian_gamma, pghi, pghi_phase
from cspec.phase.rtisi import rtisi_la

__all__ = [
    "METHODS", "BlockReconstructor", "fast_griffin_lim", "gaussian_gamma", "griffin_lim", "initial_phasor", "pghi",
    "pghi_phase", "reconstruct", "reconstruct_blockwise", "rtisi_la",
]
