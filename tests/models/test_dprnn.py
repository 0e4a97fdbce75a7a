"""DPRNN (Luo, Chen & Yoshioka 2020): shared checks, segmentation / overlap-add, parameter count by hand."""

import torch

from cspec.models import build
from cspec.models.blocks.separation import overlap_add, segment

SMALL = dict(n_filters=64, kernel_size=16, chunk_size=16, hidden=32, n_blocks=1)


def test_dprnn_paper_config(model_checks):
    model = build("dprnn")
    assert (model.sample_rate, model.n_sources, model.stft_config, model.chunk) == (8000, 2, None, 250)
    model_checks.param_count_close(model, 2.6)
    # L = 2 gives 8000 frames per second: 1 s forward/backward takes minutes on CPU, so a short clip here
    model_checks.forward_backward(model, seconds=0.02)


def test_dprnn_reduced(model_checks):
    model_checks.forward_backward(build("dprnn", kernel_size=16, chunk_size=50, hidden=32, n_blocks=2))
    model_checks.overfit(build("dprnn", **SMALL), steps=100, lr=1e-2, seconds=0.25)


def test_segment_overlap_add_round_trip():
    """50 % overlap with hop-padding at both ends: every frame lies in exactly two chunks, so OLA gives 2 x."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 101)
    chunks = segment(x, chunk=10, hop=5)
    assert chunks.shape == (2, 3, 10, 22)  # (101 + 2*5 + 4 - 10) / 5 + 1 chunks
    for s in range(chunks.shape[-1]):  # chunk s holds frames 5(s-1) .. 5(s-1)+9, zeros outside the signal
        for k in range(10):
            n = 5 * (s - 1) + k
            expected = x[..., n] if 0 <= n < 101 else torch.zeros(2, 3)
            torch.testing.assert_close(chunks[..., k, s], expected)
    torch.testing.assert_close(overlap_add(chunks, hop=5, length=101), 2 * x)


def test_parameter_count_by_hand():
    """Each block: 2 x (BLSTM 2*(4*128*(64+128) + 8*128) + Linear 256*64+64 + gLN 128); plus encoder/decoder 2*64*2,
    bottleneck gLN 128 + 64*64+64, PReLU 1, 1x1 conv 64*128+128, two gates 2*(64*64+64), mask conv 64*64."""
    blstm = 2 * (4 * 128 * (64 + 128) + 8 * 128)
    block = 2 * (blstm + 256 * 64 + 64 + 128)
    rest = 2 * 64 * 2 + 128 + 64 * 64 + 64 + 1 + 64 * 128 + 128 + 2 * (64 * 64 + 64) + 64 * 64
    assert build("dprnn").n_parameters() == 6 * block + rest
