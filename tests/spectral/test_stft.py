"""STFT/iSTFT against a direct NumPy DFT, perfect reconstruction per preset, and the export-safe variant."""

import numpy as np
import pytest
import torch

from cspec.errors import ConfigError
from cspec.spectral import PRESETS, STFTConfig, get_preset, istft, list_presets, make_window, n_frames, stft
from cspec.spectral.export import ConvISTFT, ConvSTFT


def _numpy_stft(x: np.ndarray, cfg: STFTConfig) -> np.ndarray:
    """Frames of the centre-padded signal, windowed, DFT'd by the definition sum_n x w e^{-2 pi j k n / N}."""
    w = make_window(cfg, dtype=torch.float64).numpy()
    left = (cfg.n_fft - cfg.win) // 2
    w = np.pad(w, (left, cfg.n_fft - cfg.win - left))
    if cfg.center:
        x = np.pad(x, cfg.n_fft // 2, mode="reflect" if cfg.pad_mode == "reflect" else "constant")
    n_fr = 1 + (len(x) - cfg.n_fft) // cfg.hop_length
    k = np.arange(cfg.n_fft // 2 + 1)[:, None]
    n = np.arange(cfg.n_fft)[None, :]
    dft = np.exp(-2j * np.pi * k * n / cfg.n_fft)
    frames = np.stack([x[m * cfg.hop_length : m * cfg.hop_length + cfg.n_fft] * w for m in range(n_fr)], 1)
    return dft @ frames


@pytest.mark.parametrize("name", list_presets())
def test_stft_equals_direct_dft(name):
    cfg = get_preset(name)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3 * cfg.n_fft + 17)
    ours = stft(torch.from_numpy(x), cfg).numpy()
    ref = _numpy_stft(x, cfg)
    assert ours.shape == ref.shape == (cfg.n_freqs, n_frames(len(x), cfg))
    assert np.abs(ours - ref).max() < 1e-9 * max(1.0, np.abs(ref).max())


@pytest.mark.parametrize("name", list_presets())
def test_perfect_reconstruction_every_preset(name):
    cfg = get_preset(name)
    torch.manual_seed(0)
    x = torch.randn(2, 3, cfg.sample_rate // 2 + 13)  # batch and channel dims are kept
    X = stft(x, cfg)
    assert X.dtype == torch.complex64 and X.shape[:2] == (2, 3) and X.shape[2] == cfg.n_freqs
    y = istft(X, cfg, length=x.shape[-1])
    assert y.shape == x.shape
    assert (y - x).abs().max().item() < 1e-5


def test_presets_document_their_source():
    for name, cfg in PRESETS.items():
        assert cfg.source and any(ch.isdigit() for ch in cfg.source), name
    assert get_preset("mpsenet").compress == 0.3 and get_preset("sgmse").compress_scale == 0.15
    assert (get_preset("dccrn").n_fft, get_preset("dccrn").win, get_preset("dccrn").hop_length) == (512, 400, 100)
    assert get_preset("tfgridnet8k").sample_rate == 8000


def test_bad_configs_raise_config_error():
    with pytest.raises(ConfigError, match="unknown STFT preset"):
        get_preset("nope")
    with pytest.raises(ConfigError, match="window"):
        STFTConfig(512, 128, window="kaiser")
    with pytest.raises(ConfigError, match="win_length"):
        STFTConfig(256, 64, win_length=512)
    with pytest.raises(ConfigError, match="too short"):
        stft(torch.zeros(10), "dcunet")
    with pytest.raises(ConfigError, match="complex"):
        istft(torch.zeros(201, 5), "mpsenet")


@pytest.mark.parametrize("name", ["mpsenet", "dccrn", "sgmse", "cmgan", "tfgridnet8k"])
def test_export_safe_stft_matches_torch(name):
    cfg = get_preset(name)
    torch.manual_seed(1)
    x = torch.randn(2, cfg.sample_rate // 2 + 5)
    re, im = ConvSTFT(cfg)(x)
    X = stft(x, cfg)
    scale = X.abs().max().item()
    assert (re - X.real).abs().max().item() < 1e-5 * scale
    assert (im - X.imag).abs().max().item() < 1e-5 * scale
    y = ConvISTFT(cfg)(X.real, X.imag, length=x.shape[-1])
    y_ref = istft(X, cfg, length=x.shape[-1])
    assert (y - y_ref).abs().max().item() < 1e-5
    assert (ConvISTFT(cfg)(X.real, X.imag) - istft(X, cfg)).abs().max().item() < 1e-5


def test_export_safe_stft_exports_to_onnx(tmp_path):
    import onnxruntime as ort

    class RoundTrip(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stft, self.istft = ConvSTFT("mpsenet"), ConvISTFT("mpsenet")

        def forward(self, wave):
            re, im = self.stft(wave)
            mag = torch.sqrt(re**2 + im**2 + 1e-12)  # a model would work on these real tensors
            return mag, self.istft(re, im)

    model = RoundTrip().eval()
    x = torch.randn(1, 16000)
    path = tmp_path / "stft.onnx"
    samples = torch.export.Dim("samples", min=1024, max=10**8)
    torch.onnx.export(model, (x,), str(path), dynamic_shapes={"wave": {1: samples}}, dynamo=True, verbose=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    for n in (16000, 24123):
        xi = torch.randn(1, n)
        mag, out = sess.run(None, {name: xi.numpy()})
        mag_ref, out_ref = model(xi)
        assert np.abs(mag - mag_ref.detach().numpy()).max() < 1e-4
        assert np.abs(out - out_ref.detach().numpy()).max() < 1e-5
        assert np.abs(out[..., : n - 400] - xi.numpy()[..., : n - 400]).max() < 1e-5


@pytest.mark.parametrize("name", list_presets())
def test_istft_equals_torch_istft(name):
    cfg = get_preset(name)
    torch.manual_seed(2)
    X = torch.randn(3, cfg.n_freqs, 37, dtype=torch.complex128)  # inconsistent on purpose: tests the LS inverse
    window = make_window(cfg, dtype=torch.float64)
    for length in (None, cfg.hop_length * 30 + 7, cfg.hop_length * 36):
        ref = torch.istft(X, cfg.n_fft, cfg.hop_length, cfg.win, window, center=True, length=length)
        ours = istft(X, cfg, length=length)
        assert ours.shape == ref.shape
        assert (ours - ref).abs().max().item() < 1e-10
    longer = istft(X, cfg, length=cfg.hop_length * 50)  # zero-padded past the last frame, like torch.istft
    assert torch.equal(longer[..., : cfg.hop_length * 36], istft(X, cfg, length=cfg.hop_length * 36))
    assert longer[..., cfg.hop_length * 36 + cfg.n_fft :].abs().max() == 0


@pytest.mark.parametrize("name", list_presets())
def test_uncentred_frames_reconstruct_where_covered(name):
    """Causal models frame without centring, which torch.istft refuses for windows that start at 0."""
    cfg = get_preset(name).replace(center=False)
    torch.manual_seed(3)
    x = torch.randn(2, cfg.n_fft + cfg.hop_length * 20, dtype=torch.float64)
    y = istft(stft(x, cfg), cfg, length=x.shape[-1])
    env = torch.zeros(x.shape[-1])
    w2 = make_window(cfg, dtype=torch.float64) ** 2
    left = (cfg.n_fft - cfg.win) // 2
    for m in range(21):
        env[m * cfg.hop_length + left : m * cfg.hop_length + left + cfg.win] += w2.float()
    covered = env > 1e-6
    assert covered[cfg.n_fft // 2 : -cfg.n_fft // 2].all()
    assert (y - x)[..., covered].abs().max().item() < 1e-8
    assert (y[..., env <= 1e-11] == 0).all()


def test_istft_is_differentiable():
    cfg = get_preset("dccrn")
    X = torch.randn(1, cfg.n_freqs, 6, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: istft(z, cfg, length=500), (X,))


def test_istft_rejects_windows_that_do_not_overlap_add():
    cfg = STFTConfig(256, 256, 256, "hann")  # periodic Hann at hop = window: zeros between frames
    with pytest.raises(ConfigError, match="NOLA"):
        istft(torch.zeros(1, 129, 10, dtype=torch.complex64), cfg)


@pytest.mark.parametrize("name", list_presets())
def test_reprojector_equals_stft_of_istft(name):
    from cspec.spectral.reproject import Reprojector

    cfg = get_preset(name)
    torch.manual_seed(4)
    n = cfg.hop_length * 23 + 11
    X = stft(torch.randn(2, n, dtype=torch.float64), cfg)
    X = X * torch.polar(torch.ones_like(X.real), 6.3 * torch.rand_like(X.real))  # inconsistent on purpose
    ref = stft(istft(X, cfg, n), cfg)
    out = Reprojector(cfg, X.shape[-1], n, dtype=torch.float64)(X.transpose(-1, -2).contiguous())
    assert (out.transpose(-1, -2) - ref).abs().max().item() < 1e-10 * ref.abs().max().item()
    with pytest.raises(ConfigError, match="frames"):
        Reprojector(cfg, X.shape[-1] + 1, n)


@pytest.mark.parametrize("name", [*list_presets(), "odd"])
@pytest.mark.parametrize("extra", [0, 5])
@pytest.mark.parametrize("padding", ["preset", "constant", "uncentred"])
def test_reprojector_buffered_path_equals_allocating_path(name, extra, padding):
    """``out=`` (buffers kept between calls; reflect padding as flipped copies) gives the allocating result."""
    import dataclasses

    from cspec.spectral.reproject import Reprojector

    cfg = get_preset(name) if name != "odd" else STFTConfig(401, 100, 401, "hann")
    if padding != "preset":
        cfg = dataclasses.replace(cfg, pad_mode="constant") if padding == "constant" else \
            dataclasses.replace(cfg, center=False)
    torch.manual_seed(5)
    n = cfg.hop_length * 17 + extra
    X = stft(torch.randn(3, n, dtype=torch.float64), cfg)
    X = (X * torch.polar(torch.ones_like(X.real), 6.3 * torch.rand_like(X.real))).transpose(-1, -2).contiguous()
    project = Reprojector(cfg, X.shape[-2], n, dtype=torch.float64)
    ref = project(X)
    out = torch.empty_like(X)
    for _ in range(2):  # the second call reuses the buffers the first one made
        assert project(X, out=out) is out
        assert (out - ref).abs().max().item() < 1e-12 * ref.abs().max().item()
    assert project.bufferable
    one = torch.empty_like(X[:1])  # another batch size: new buffers
    assert (project(X[:1], out=one) - ref[:1]).abs().max().item() < 1e-12 * ref.abs().max().item()


@pytest.mark.parametrize("n_fft", [400, 401])
@pytest.mark.parametrize("center", [True, False])
def test_n_frames_counts_like_torch_stft(n_fft, center):
    cfg = STFTConfig(n_fft, 100, n_fft, "hann", center=center)
    for n in (n_fft, 1700, 1701, 1799):
        assert n_frames(n, cfg) == stft(torch.zeros(n), cfg).shape[-1], n
