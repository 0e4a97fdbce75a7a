"""Block-wise phase retrieval of long signals: the quality of the whole-signal run, no seam at the joins, and
the streaming transforms it is built on equal the whole-signal STFT and iSTFT."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from cspec import audio
from cspec.errors import ConfigError
from cspec.metrics.spectral import spectral_convergence_db
from cspec.phase import reconstruct
from cspec.phase.blockwise import BlockReconstructor, reconstruct_blockwise
from cspec.phase.streams import FrameStream, OverlapAddStream, mono_blocks
from cspec.spectral.stft import STFTConfig, get_preset, istft, stft

CFG = get_preset("mpsenet")
BLOCK = 100  # frames: 1 s at hop 100, so that a clip of a few seconds has several joins


def _local_sc_db(mag: torch.Tensor, wave: torch.Tensor, frame: int, half: int = 4) -> float:
    """Spectral convergence (Sturmel & Daudet 2011, eq. 4) on the frames frame-half .. frame+half-1 only."""
    est = stft(wave, CFG).abs()[:, frame - half: frame + half]
    ref = mag[:, frame - half: frame + half]
    return 20 * float(torch.log10((ref - est).norm() / ref.norm()))


@pytest.mark.parametrize("method, n_iter", [("fgla", 30), ("pghi+fgla", 10), ("rtisi", 8)])
def test_blockwise_matches_the_whole_signal_and_has_no_seam(speech, method, n_iter):
    x = speech
    mag = stft(x, CFG).abs()
    whole = reconstruct(mag, method, n_iter, CFG, x.shape[-1])
    blocks = reconstruct_blockwise(mag, method, n_iter, CFG, x.shape[-1], block=BLOCK, context=16)
    assert blocks.shape == whole.shape and torch.isfinite(blocks).all()
    sc_whole = spectral_convergence_db(mag, whole, CFG).item()
    sc_blocks = spectral_convergence_db(mag, blocks, CFG).item()
    assert sc_blocks < sc_whole + 1.5
    # each block separately, the waveforms cut and joined: the phase restarts at every join, and shows there
    step = BLOCK * CFG.hop_length
    naive = torch.cat([reconstruct(stft(x[i: i + step], CFG).abs(), method, n_iter, CFG, x[i: i + step].shape[-1])
                       for i in range(0, x.shape[-1], step)])
    joins = range(BLOCK, mag.shape[-1] - 4, BLOCK)
    assert len(joins) >= 1
    seams = []
    for j in joins:  # at every join, no worse than the whole-signal output at the same frames (+2 dB)
        at_whole = _local_sc_db(mag, whole, j)
        assert _local_sc_db(mag, blocks, j) < at_whole + 2.0
        seams.append(_local_sc_db(mag, naive, j) > at_whole + 2.0)
    # the seam this test would see: the naive joins show one (a join may land where it happens not to show: RTISI's
    # 8 iterations on an AMD EPYC gave -12.13 dB there against the whole signal's -12.03)
    assert sum(seams) >= max(1, len(seams) // 2)


def test_pghi_blockwise_continues_the_phase(speech):
    """PGHI integrates the phase from the last committed frame (Prusa & Holighaus 2017): nearly the whole-signal
    PGHI, which integrates the same gradients."""
    mag = stft(speech, CFG).abs()
    whole = spectral_convergence_db(mag, reconstruct(mag, "pghi", None, CFG, speech.shape[-1]), CFG).item()
    blocks = reconstruct_blockwise(mag, "pghi", None, CFG, speech.shape[-1], block=BLOCK, context=16)
    assert spectral_convergence_db(mag, blocks, CFG).item() < whole + 0.5


def test_pushing_in_any_pieces_gives_the_same_signal(speech):
    mag = stft(speech[:20000], CFG).abs()
    a = reconstruct_blockwise(mag, "fgla", 5, CFG, 20000, block=60, context=10)
    rec = BlockReconstructor("fgla", CFG, 5, block=60, context=10)
    parts = [rec.push(mag[:, i: i + 7]) for i in range(0, mag.shape[-1], 7)]
    b = torch.cat(parts + [rec.finish(20000)])
    assert torch.equal(a, b) and rec.blocks == 4 and rec.frames == mag.shape[-1]


@pytest.mark.parametrize("cfg", [CFG, STFTConfig(512, 128, pad_mode="constant"), STFTConfig(401, 100, 401),
                                 STFTConfig(512, 256, center=False)])
@pytest.mark.parametrize("length", [1000, 16037])
def test_streams_equal_the_whole_signal_transforms(cfg, length):
    torch.manual_seed(0)
    x = torch.randn(length)
    ref = stft(x, cfg)
    fs, frames, i = FrameStream(cfg), [], 0
    for size in [7, 150, 333, 1000, 5000] * 10:
        frames.append(fs.push(x[i: i + size]))
        i += size
    got = torch.cat(frames + [fs.finish()], dim=-1)
    assert got.shape == ref.shape and torch.equal(got, ref)
    ola, out, j = OverlapAddStream(cfg), [], 0
    for size in [1, 5, 40, 3, 100] * 20:
        out.append(ola.push(ref[:, j: j + size]))
        j += size
    y = torch.cat(out + [ola.finish(length)])
    torch.testing.assert_close(y, istft(ref, cfg, length), rtol=0, atol=1e-6)


def test_mono_blocks_reads_like_load(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "st.flac"
    sf.write(path, 0.3 * rng.standard_normal((30011, 2)), 22050, subtype="PCM_24")
    whole, _ = audio.load(path, sr=16000, mono=True)
    streamed = torch.cat(list(mono_blocks(path, 16000, block=4096)))
    assert streamed.shape == whole[0].shape
    torch.testing.assert_close(streamed, whole[0], rtol=0, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="unknown phase retrieval method"):
        BlockReconstructor("magic")
    with pytest.raises(ConfigError, match="block must be"):
        BlockReconstructor("fgla", block=0)
    with pytest.raises(ConfigError, match="no magnitude frames"):
        BlockReconstructor("fgla").finish(100)
    with pytest.raises(ConfigError, match="too short"):
        FrameStream(CFG).finish()
