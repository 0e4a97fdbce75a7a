"""Training objectives: waveform (SI-SDR ...), spectral, anti-wrapping phase, PIT, adversarial; and a registry.

All losses are differentiable PyTorch; the evaluation metrics (NumPy, not differentiable) are in
:mod:`cspec.metrics`. ``build(name, **kwargs)`` makes a loss by name for recipes; ``list_losses()`` names them.
"""

from cspec.losses.adversarial import (
    LearnableSigmoid,
    MetricDiscriminator,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    metricgan_discriminator_loss,
    metricgan_generator_loss,
    normalize_pesq,
)
from cspec.losses.phase import AntiWrappingPhaseLoss, anti_wrapping_phase_loss, phase_terms
from cspec.losses.pit import PITLoss, best_permutation, pairwise_matrix, reorder
from cspec.losses.registry import FunctionLoss, build, list_losses, register
from cspec.losses.spectral import (
    PWG_RESOLUTIONS,
    ComplexMSELoss,
    CompressedSpectralLoss,
    ConsistencyLoss,
    MultiResolutionSTFTLoss,
    complex_mse,
    compressed_magnitude_mse,
    compressed_spectral_loss,
    stft_consistency,
)
from cspec.losses.waveform import (
    SDSDRLoss,
    SISDRLoss,
    SNRLoss,
    ThresholdedSISDRLoss,
    WeightedSDRLoss,
    pairwise,
    sd_sdr,
    si_sdr,
    snr,
    thresholded_si_sdr,
    weighted_sdr,
)

__all__ = [
    "build", "list_losses", "register", "FunctionLoss",
    "si_sdr", "snr", "sd_sdr", "weighted_sdr", "pairwise", "SISDRLoss", "SNRLoss", "SDSDRLoss", "WeightedSDRLoss",
    "thresholded_si_sdr", "ThresholdedSISDRLoss",
    "complex_mse", "compressed_magnitude_mse", "compressed_spectral_loss", "stft_consistency", "PWG_RESOLUTIONS",
    "ComplexMSELoss", "CompressedSpectralLoss", "ConsistencyLoss", "MultiResolutionSTFTLoss",
    "phase_terms", "anti_wrapping_phase_loss", "AntiWrappingPhaseLoss",
    "PITLoss", "best_permutation", "pairwise_matrix", "reorder",
    "lsgan_generator_loss", "lsgan_discriminator_loss", "hinge_generator_loss", "hinge_discriminator_loss",
    "feature_matching_loss", "normalize_pesq", "metricgan_generator_loss", "metricgan_discriminator_loss",
    "LearnableSigmoid", "MetricDiscriminator",
]
