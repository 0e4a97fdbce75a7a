"""Two GTCRNs in cascade on one STFT: the first masks the noisy spectrum, the second refines its estimate.

Multi-stage enhancement (e.g. Li et al. 2021, "Two heads are better than one: a two-stage complex
spectral mapping approach for monaural speech enhancement", IEEE/ACM TASLP 29, CTS-Net): a second network sees the
first one's estimate and removes what it left. Here both stages are GTCRNs (Rong et al. 2024,
:mod:`cspec.models.gtcrn`) on the same causal STFT, so the cascade is one complex mask ``M = M2(M1 Y) M1`` per bin
and frame, still causal frame by frame: :class:`cspec.infer.Stream` and the frame-wise ONNX export run it as they
run one GTCRN, at twice the cost.

cspec's set-up, not a paper's:

- the second stage starts as the identity: its mask's last normalisation has scale 0 and bias
  ``(identity_bias, 0)``, and its ``mask_gain`` is ``1 / tanh(identity_bias)``, so ``M2 = 1`` exactly at the start
  (and its mask can reach ``1 / tanh(1) = 1.31``, enough to restore what the first stage over-suppressed);
- ``freeze_first`` (default) keeps the first stage's weights and normalisation statistics fixed while training
  and runs it without gradients: a trained single-stage model becomes the first stage
  (``recipes/pool/make_two_stage.py``), and training improves on it from where it is;
- ``first_model="gtcrn_two_stage"`` makes the first stage a cascade itself, so a trained two-stage model gets a
  third stage the same way (``M = M3(M2 M1 Y) M2 M1``);
- ``second_sees_noisy`` gives the second stage the noisy spectrum ``Y`` as well as ``M1 Y``, as CTS-Net's second
  stage sees both (``GTCRN(extra_inputs=1)``; the weights that read ``Y`` start at zero, so the start is still the
  identity).
"""

from __future__ import annotations

import math

import torch

from cspec.errors import ConfigError
from cspec.models.base import SpeechModel, register
from cspec.models.blocks.crn_common import causal_istft, causal_stft
from cspec.models.gtcrn import GTCRN, GTCRN_STFT
from cspec.nn.functional import complex_mul
from cspec.spectral.masks import apply_mask

__all__ = ["TwoStageGTCRN"]


@register("gtcrn_two_stage")
class TwoStageGTCRN(SpeechModel):
    """GTCRNs in cascade, each refining the previous estimate (23.7 k parameters a stage; by default the last trains).

    Args:
        first: options of the first :class:`GTCRN` (its defaults: the paper's).
        second: options of the second; its ``mask_gain`` defaults to ``1 / tanh(identity_bias)``.
        freeze_first: keep the first stage fixed (no gradients, normalisation in inference mode) (True).
        identity_bias: the bias of the second mask's last normalisation at initialisation (1.0).
        first_model: ``"gtcrn"`` (default), or ``"gtcrn_two_stage"`` for a cascade as the first stage (``first``
            then holds its options).
        second_sees_noisy: feed the second stage the noisy spectrum beside the first stage's estimate (False).
    """

    sample_rate = 16000
    stft_config = GTCRN_STFT
    causal = True
    paper = ("Li et al., 2021, IEEE/ACM TASLP: Two heads are better than one (two-stage enhancement), with "
             "Rong et al., 2024, ICASSP: GTCRN as both stages")
    paper_params = None

    def __init__(self, first: dict | None = None, second: dict | None = None, freeze_first: bool = True,
                 identity_bias: float = 1.0, first_model: str = "gtcrn",
                 second_sees_noisy: bool = False):
        super().__init__()
        if first_model not in ("gtcrn", "gtcrn_two_stage"):
            raise ConfigError(f"first_model must be 'gtcrn' or 'gtcrn_two_stage', got {first_model!r}")
        first, second = dict(first or {}), dict(second or {})
        if not 0 < float(identity_bias) < 10:
            raise ConfigError(f"identity_bias must lie in (0, 10), got {identity_bias}")
        for which, opts in (("first", first), ("second", second)):
            for key, plain in (("lookahead_frames", 0), ("df_order", 1)):
                if int(opts.get(key, plain)) != plain:
                    raise ConfigError(f"{which} stage: {key} is not supported in the cascade")
        second.setdefault("mask_gain", 1.0 / math.tanh(float(identity_bias)))
        if second.get("extra_inputs", 0):
            raise ConfigError("second stage: extra_inputs is set by second_sees_noisy")
        second["extra_inputs"] = int(bool(second_sees_noisy))
        self.first = GTCRN(**first) if first_model == "gtcrn" else TwoStageGTCRN(**first)
        self.second = GTCRN(**second)
        with torch.no_grad():
            self.second.mask_norm.weight.zero_()
            self.second.mask_norm.bias.copy_(torch.tensor([float(identity_bias), 0.0]))
        self.freeze_first = bool(freeze_first)
        if self.freeze_first:
            self.first.requires_grad_(False)
            self.first.eval()

    @property
    def second_sees_noisy(self) -> bool:
        """Whether the second stage reads the noisy spectrum too (it then has one extra input)."""
        return self.second.extra_inputs > 0

    def train(self, mode: bool = True) -> "TwoStageGTCRN":
        super().train(mode)
        if self.freeze_first:
            self.first.eval()  # its BatchNorm statistics stay those it was trained with
        return self

    def mask_pair(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real and imaginary parts ``(B, 257, frames)`` of the cascade's mask ``M2(M1 Y) M1``."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_first):
            m1r, m1i = self.first.mask_pair(re, im)
        noisy = (re, im) if self.second_sees_noisy else ()
        m2r, m2i = self.second.mask_pair(*complex_mul(re, im, m1r, m1i), *noisy)  # the second sees M1 Y (and Y)
        return complex_mul(m1r, m1i, m2r, m2i)

    def forward(self, wave: torch.Tensor) -> dict:
        wave = self._check_input(wave)
        noisy = causal_stft(wave, self.stft_config)
        mask = torch.complex(*self.mask_pair(noisy.real, noisy.imag))
        spec = apply_mask(noisy, mask)
        return {"wave": causal_istft(spec, self.stft_config, wave.shape[-1]), "spec": spec, "mask": mask}
