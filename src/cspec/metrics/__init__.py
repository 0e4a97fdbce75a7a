"""Evaluation metrics: intrusive (PESQ, STOI, SI-SDR, composite ...), non-intrusive (DNSMOS), spectral."""

from cspec.metrics.spectral import spectral_convergence, spectral_convergence_db

__all__ = ["spectral_convergence", "spectral_convergence_db"]
