"""Bundle a published checkpoint (through ``cspec convert``) and write its model card from measurements.

    .venv/bin/python benchmarks/converted_card.py --name gtcrn-dns3 \
        --checkpoint ../shared/teachers/gtcrn/model_trained_on_dns3.tar --trained-on "DNS Challenge 3 ..." \
        [--sentences ~/.cache/cspec/dev-sentences]

Converts the checkpoint into ``src/cspec/pretrained/NAME/`` (``cspec.models.convert``: tensors only), exports its
``model.onnx``, measures the bundled folder with ``benchmarks/enhance.py`` (dev pairs, DNSMOS on the real noisy
clips, RTF in PyTorch and through ONNX on one thread; the sentence dev set of ``recipes/read/dev_sentences.py`` when
given) and writes ``MODEL_CARD.md``. Every number on the card comes out of this run; this command rebuilds the
bundle from the published file alone.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import json
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from model_card import PRETRAINED, describe, exportable  # noqa: E402


def measure(name: str, folder: Path, pairs: Path | None, real: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "res.json"
        cmd = [sys.executable, str(ROOT / "benchmarks" / "enhance.py"), "--peers", "",
               "--cspec", f"{name}={folder}@torch", "--cspec", f"{name}-onnx={folder}@onnx", "--json", str(out)]
        cmd += ["--real"] if real else []
        cmd += ["--pairs", str(pairs)] if pairs else []
        subprocess.run(cmd, check=True)
        return json.loads(out.read_text())


def row(label: str, m: dict) -> str:
    keys = ("pesq_wb", "stoi", "si_sdr", "scale", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak")
    fmt = (".3f", ".3f", ".2f", ".2f", ".3f", ".3f", ".3f")
    return f"| {label} | " + " | ".join(f"{m.get(k, float('nan')):{f}}" for k, f in zip(keys, fmt)) + " |"


def card(args, d: dict, files: dict, res: dict, sent: dict | None, host: str) -> str:
    me, onnx, noisy = res[f"cspec {args.name}"], res[f"cspec {args.name}-onnx"], res["noisy"]
    cfg = d["stft"]
    rel = lambda p: os.path.relpath(Path(p).resolve(), ROOT)  # noqa: E731
    sent_part = ""
    if sent:
        s_me, s_noisy = sent[f"cspec {args.name}"], sent["noisy"]
        sent_part = f"""
The {s_me['n_dev']} pairs of the sentence dev set (`python recipes/read/dev_sentences.py`: read sentences of the
`test` speakers of speech_read with held-out noise at 0-15 dB SNR):

| | PESQ-WB | STOI | SI-SDR (dB) | scale | DNSMOS OVRL | SIG | BAK |
|---|---:|---:|---:|---:|---:|---:|---:|
{row('noisy input', s_noisy['dev'])}
{row(args.name, s_me['dev'])}
"""
    return f"""# cspec pretrained model `{args.name}`

{d['doc']}

The official weights of {args.credit}, converted by `cspec convert` (cspec.models.convert: the checkpoint is read
with `torch.load(weights_only=True)`, its tensors renamed into `cspec.models.gtcrn.GTCRN`; the decoder's transposed
convolutions become convolutions with flipped kernels). Not trained by cspec: {args.trained_on}. The converted
network reproduces the official code's recorded outputs to 1e-5 of their peak (`tests/models/test_convert.py`).

| | |
|---|---|
| architecture | `{d['registry']}` ({d['params'] / 1e3:,.1f} k parameters, {d['macs'] / 1e9:.3f} GMAC per second of audio) |
| input / output | {d['sr'] // 1000} kHz mono waveform in and out; other rates and channels through `cspec.infer.Enhancer` |
| STFT | n_fft {cfg.n_fft}, window {cfg.win_length} ({cfg.window}), hop {cfg.hop_length}, centred {cfg.center} (cspec's causal zero padding; the official offline code pads with reflection) |
| causal | {'yes' if d['causal'] else 'no'} |
| latency | {d['lookahead_ms']:.1f} ms look-ahead (`model.lookahead()`); `cspec.infer.Stream` latency {d['stream_latency_ms']:.1f} ms |
| training | none in cspec: {args.trained_on} |
| rebuild from scratch | `cspec convert {rel(args.checkpoint)} -o src/cspec/pretrained/{args.name}`, then this card: `.venv/bin/python benchmarks/converted_card.py --name {args.name} --checkpoint CHECKPOINT` (no recipe: the weights are the authors') |
| weights | `model.safetensors` ({files['size'] / 1e6:.2f} MB, SHA-256 `{files['sha256'][:16]}...`) + `config.json`; `model.onnx` (`cspec export`, {files['onnx_size'] / 1e6:.2f} MB), which the loader runs only while the digest it records matches the folder's model |
| source | {rel(args.checkpoint)} (SHA-256 `{files['ckpt_sha256'][:16]}...`) |
| licence | MIT, copyright 2024 Rong Xiaobin (the official repository's licence, `../shared/teachers/gtcrn/LICENSE`) |

## Measured

Command: `.venv/bin/python benchmarks/converted_card.py --name {args.name} --checkpoint {rel(args.checkpoint)}{' --sentences DIR' if sent else ''}` ({datetime.now():%Y-%m-%d %H:%M}, {host}; load average {args.load:.1f} at the start: above 0.5, other jobs shared the CPUs and the real-time factors read high).

{me['n_dev']} pairs of `$CSPEC_DATA/dev_pairs` (DNS-Challenge synthetic, VoiceBank+DEMAND p287, babble), scored by `cspec.metrics`
(scale: the least-squares gain of the clean speech in the output; 1 keeps its level):

| | PESQ-WB | STOI | SI-SDR (dB) | scale | DNSMOS OVRL | SIG | BAK |
|---|---:|---:|---:|---:|---:|---:|---:|
{row('noisy input', noisy['dev'])}
{row(args.name, me['dev'])}

DNSMOS OVRL on the real recordings of `$CSPEC_DATA/dev_noisy_real` (no reference): noisy
{noisy.get('real', {}).get('dnsmos_ovrl', float('nan')):.3f}, enhanced {me.get('real', {}).get('dnsmos_ovrl', float('nan')):.3f}.
{sent_part}
Real-time factor {me['rtf']:.4f} (enhancement seconds per second of audio, one CPU thread, 16 kHz in and out,
`cspec.infer.Enhancer` with `backend="torch"`), peak RSS {me['rss_peak_mb']:.0f} MB; through the bundled `model.onnx`
and onnxruntime (one thread), which `Enhancer` and `cspec enhance` run when onnxruntime is installed: real-time factor
{onnx['rtf']:.4f}, PESQ-WB {onnx['dev']['pesq_wb']:.3f}.

## Limits

{args.limits}
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="bundled name (folder under src/cspec/pretrained)")
    p.add_argument("--checkpoint", type=Path, required=True, help="the published checkpoint file")
    p.add_argument("--arch", default="gtcrn", help="its converter (cspec.models.convert.CONVERTERS)")
    p.add_argument("--credit", default="GTCRN (Rong et al. 2024, ICASSP; github.com/Xiaobin-Rong/gtcrn, MIT)")
    p.add_argument("--trained-on", required=True, help="what the authors trained it on (one line)")
    p.add_argument("--limits", default="", help="the card's Limits paragraph")
    p.add_argument("--sentences", type=Path, help="the sentence dev set folder (clean/, noisy/) to measure too")
    args = p.parse_args(argv)
    from _results import machine

    from cspec.models.convert import convert

    host = machine().split(", torch")[0]
    args.load = os.getloadavg()[0]
    dst = PRETRAINED / args.name
    convert(args.checkpoint, dst, args.arch)
    exportable(dst)
    weights = (dst / "model.safetensors").read_bytes()
    files = {"size": len(weights), "sha256": hashlib.sha256(weights).hexdigest(),
             "onnx_size": (dst / "model.onnx").stat().st_size,
             "ckpt_sha256": hashlib.sha256(args.checkpoint.read_bytes()).hexdigest()}
    res = measure(args.name, dst, None, real=True)
    sent = measure(args.name, dst, args.sentences, real=False) if args.sentences else None
    text = card(args, describe(dst), files, res, sent, host)
    (dst / "MODEL_CARD.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
