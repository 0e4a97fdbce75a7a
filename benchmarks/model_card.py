"""Bundle a trained model into the package and write its model card from measurements.

    .venv/bin/python benchmarks/model_card.py --name default --run runs/pool/default \
        --recipe recipes/pool/default.yaml [--model FOLDER]

Copies ``FOLDER`` (default ``RUN/model``: the EMA weights, ``model.safetensors`` + ``config.json``) to
``src/cspec/pretrained/NAME/`` (a new folder renamed into place), then measures the bundled copy with
``benchmarks/enhance.py`` (dev pairs: PESQ-WB, STOI, SI-SDR, DNSMOS; DNSMOS on the real noisy clips; RTF and
peak memory on one thread) and writes ``MODEL_CARD.md`` beside the weights: architecture, recipe, data,
training time (the run's TensorBoard wall clock), metrics, real-time factor and latency. Nothing is estimated
by hand: every number on the card comes out of this run or the training run's own files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "src" / "cspec" / "pretrained"
DATA = Path(os.environ.get("CSPEC_DATA", ROOT.parent / "shared" / "data"))


def training_info(run: Path) -> dict:
    """Steps, wall-clock time and last scores of a training run folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    info = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    ea = EventAccumulator(str(run / "tensorboard"))
    ea.Reload()
    times = [e.wall_time for tag in ea.Tags()["scalars"] for e in ea.Scalars(tag)]
    steps = [e.step for tag in ea.Tags()["scalars"] for e in ea.Scalars(tag)]
    info["wall_s"] = (max(times) - min(times)) if times else None
    info.setdefault("steps", max(steps) if steps else None)
    info["started"] = datetime.fromtimestamp(min(times)).strftime("%Y-%m-%d %H:%M") if times else "?"
    return info


def describe(folder: Path) -> dict:
    """Parameters, MACs per second, causality and latency of a model folder."""
    from models import macs_per_second  # benchmarks/models.py (main puts benchmarks/ on the path)

    from cspec.infer import Stream
    from cspec.models import load

    model = load(folder).eval()
    sr = model.stft_config.sample_rate
    d = {"registry": model.registry_name, "params": sum(p.numel() for p in model.parameters()), "sr": sr,
         "macs": macs_per_second(model, sr), "causal": bool(model.causal), "stft": model.stft_config}
    d["lookahead_ms"] = 1000 * model.lookahead() / sr if model.causal else None
    d["mask_gain"] = float(model.config.get("mask_gain", 1.0))
    if model.causal:
        try:
            d["stream_latency_ms"] = 1000 * Stream(model).latency / sr
        except Exception as exc:  # noqa: BLE001 - a model without a streaming path
            d["stream_latency_ms"] = f"not streamable: {exc}"
    d["doc"] = (type(model).__doc__ or "").strip().splitlines()[0]
    return d


def card(name: str, recipe: Path, spec: dict, host: str, d: dict, train: dict, res: dict, files: dict,
         note: str = "", about: str = "", lineage: str = "", rebuild_cmd: str = "") -> str:
    """The card's markdown. ``recipe``: its path as committed; ``spec``: its content; ``host``: the machine."""
    init = (spec.get("model") or {}).get("init") or ""
    me, noisy = res[f"cspec {name}"], res["noisy"]
    dev, real = me.get("dev", {}), me.get("real", {})
    ndev, nreal = noisy.get("dev", {}), noisy.get("real", {})
    cfg = d["stft"]
    row = lambda label, m: (f"| {label} | {m.get('pesq_wb', float('nan')):.3f} | {m.get('stoi', float('nan')):.3f} | "  # noqa: E731
                            f"{m.get('si_sdr', float('nan')):.2f} | {m.get('scale', float('nan')):.2f} | "
                            f"{m.get('dnsmos_ovrl', float('nan')):.3f} | "
                            f"{m.get('dnsmos_sig', float('nan')):.3f} | {m.get('dnsmos_bak', float('nan')):.3f} |")
    if not d["causal"]:
        lat = "offline (non-causal): the whole chunk (10 s by default) is needed before output"
    elif isinstance(d.get("stream_latency_ms"), str):  # causal with frame look-ahead: chunked use only
        lat = (f"{d['lookahead_ms']:.1f} ms look-ahead (`model.lookahead()`); used offline or in chunks "
               f"through `cspec.infer.Enhancer` ({d['stream_latency_ms']})")
    else:
        lat = (f"{d['lookahead_ms']:.1f} ms look-ahead (`model.lookahead()`); `cspec.infer.Stream` latency "
               f"{d['stream_latency_ms']:.1f} ms")
    hours = train.get("steps", 0) * spec["data"]["batch_size"] * spec["data"]["train"]["seconds"] / 3600
    wall = train.get("wall_s")
    opts = spec["data"]["train"].get("options", {})
    valid_opts = (spec["data"].get("valid") or {}).get("options") or {}
    deb = bool(opts.get("noise_manifests") or valid_opts.get("noise_manifests"))
    deb_min = debian_minutes() if deb else 0.0
    noise_dir = os.environ.get("CSPEC_DEBIAN_NOISE_NAME", "~/.cache/cspec/debian-noise")
    env = "CSPEC_DATA=../shared/data" + (f" CSPEC_DEBIAN_NOISE={noise_dir}" if deb else "")
    pools = opts.get("speech_pools") or []
    speech = (pool_text(pools) if pools else
              "the shared development pool (`$CSPEC_DATA/manifest.csv`, training speakers only)")
    deb_build = DEB_BUILD.replace("~/.cache/cspec/debian-noise", noise_dir)
    rebuild = f"\n| rebuild from scratch | `{rebuild_cmd}` |" if rebuild_cmd else ""
    if spec["data"]["train"].get("kind") == "paired":  # fixed pairs that the recipe's header says how to make
        folders = ", ".join(f"`{v}`" for v in opts.values())
        data_text = f"fixed noisy/target pairs ({folders}), made as the recipe's header says"
        env += " " + " ".join(sorted({v.split("/")[0].lstrip("$") + "=<its folder>" for v in opts.values()
                                      if str(v).startswith("$") and not str(v).startswith("$CSPEC_DATA")}))
    else:
        data_text = (f"{speech}: clean speech mixed on the fly with {noises(spec)} noise (see the recipe)"
                     f"{deb_data(deb_min) if deb else ''}")
    return f"""# cspec pretrained model `{name}`

{d['doc']}
{chr(10) + about + chr(10) if about else ""}
| | |
|---|---|
| architecture | `{d['registry']}` ({d['params'] / 1e3:,.1f} k parameters, {d['macs'] / 1e9:.3f} GMAC per second of audio) |
| input / output | {d['sr'] // 1000} kHz mono waveform in and out; other rates and channels through `cspec.infer.Enhancer` |
| STFT | n_fft {cfg.n_fft}, window {cfg.win_length} ({cfg.window}), hop {cfg.hop_length}, centred {cfg.center} |
| causal | {'yes' if d['causal'] else 'no'} |
| latency | {lat} |
| objective | {objective(spec)} |
{f"| output level | `mask_gain` {d['mask_gain']:.4f}, set after training by `recipes/pool/calibrate_gain.py` so that clean speech passes at its own level (the tanh-bounded mask had passed it at {1 / d['mask_gain']:.3f}) |" + chr(10) if d['mask_gain'] != 1.0 else ""}| recipe | `{recipe}`: `{env} cspec train {recipe}`{deb_build if deb else ''} |{rebuild}
| data | {data_text}; about {hours:.1f} h of mixtures seen |
| training | {train.get('steps')} steps{f", {wall / 60:.0f} min wall clock" if wall else ""} (started {train.get('started')}) on {host}; {train.get('skipped', 0)} steps skipped for non-finite gradients; EMA weights |
{f"| initialised from | `{init}` (`model.init` of the recipe){': ' + note if note else ''} |" + chr(10) if init else ""}| simulated dev set (training run) | {', '.join(f'{k} {v:.3f}' for k, v in (train.get('valid') or {}).items())} |
| weights | `model.safetensors` ({files['size'] / 1e6:.2f} MB, SHA-256 `{files['sha256'][:16]}...`) + `config.json`{f"; `model.onnx`, the same weights exported with the STFT and iSTFT inside (`cspec export`, {files['onnx_size'] / 1e6:.2f} MB), which the loader runs only while the digest it records (name, config and weights) matches the folder's model" if files['onnx_size'] else ''} |
| licence | weights MIT (as cspec); trained on the shared pool (CC-BY-4.0, CC-BY-SA-4.0, public domain, GPL/LGPL speech and noise: see `$CSPEC_DATA/README.md`){DEB_LICENCE if deb else ''} |

## Measured

Command: `.venv/bin/python benchmarks/model_card.py --name {name} --run RUN --recipe {recipe}` ({datetime.now():%Y-%m-%d %H:%M}, {host}).

{me['n_dev']} pairs of `$CSPEC_DATA/dev_pairs` (DNS-Challenge synthetic, VoiceBank+DEMAND p287, babble), scored by `cspec.metrics`
(scale: the least-squares gain of the clean speech in the output; 1 keeps its level):

| | PESQ-WB | STOI | SI-SDR (dB) | scale | DNSMOS OVRL | SIG | BAK |
|---|---:|---:|---:|---:|---:|---:|---:|
{row('noisy input', ndev)}
{row(name, dev)}

DNSMOS OVRL on the {len(files['real'])} real recordings of `$CSPEC_DATA/dev_noisy_real` (no reference): noisy
{nreal.get('dnsmos_ovrl', float('nan')):.3f}, enhanced {real.get('dnsmos_ovrl', float('nan')):.3f}.

Real-time factor {me['rtf']:.4f} (enhancement seconds per second of audio, one CPU thread, 16 kHz in and out,
`cspec.infer.Enhancer` with `backend="torch"`), peak RSS {me['rss_peak_mb']:.0f} MB{onnx_line(name, res)}. Peers on the same clips: `benchmarks/RESULTS.md`,
section Enhancement.

## Limits

Trained for {train.get('steps')} steps{' from the `model.init` weights above' if init else ''} on {'about 8 hours of speech (read sentences and the old pool)' if pools else 'about two hours of speech (mostly single words and letters)'} and
{f'about {7.5 + deb_min:.0f} minutes of recorded noise (7.5 from the pool, the rest from Debian packages)' if deb else 'about eight minutes of recorded noise'}, on a 2-core CPU: expect it to be beaten by models trained on a full
corpus (DNS Challenge, VoiceBank+DEMAND) with the same recipe on a GPU. It removes additive noise; it was
trained with mild simulated reverberation only and does not dereverberate.
{chr(10) + "## Lineage" + chr(10) + chr(10) + lineage.strip() + chr(10) if lineage else ""}"""


DEB_BUILD = " after `python recipes/pool/debian_noise.py --out ~/.cache/cspec/debian-noise` (see the recipe's header)"
DEB_LICENCE = "; Debian sound packages (GPL-2+, GPL-3+, CC-BY-SA-3.0: each file's package in the manifest)"


def debian_minutes() -> float:
    """Minutes of noise in ``$CSPEC_DEBIAN_NOISE/manifest.csv`` (the extra noise pool the run read)."""
    from cspec.data import read_pool

    folder = Path(os.path.expanduser(os.environ.get("CSPEC_DEBIAN_NOISE", "~/.cache/cspec/debian-noise")))
    if not (folder / "manifest.csv").is_file():
        raise SystemExit(f"error: {folder / 'manifest.csv'} not found: set CSPEC_DEBIAN_NOISE to the noise folder "
                         "the run read")
    return sum(item.duration for item in read_pool(folder, "noise")) / 60


def pool_text(pools: list) -> str:
    """The speech pools of a recipe in words, with their weights."""
    parts = []
    for e in pools:
        m, w = (e, 1.0) if isinstance(e, str) else (e["manifest"], e.get("weight", 1.0))
        what = ("`speech_read` (6.25 h of read sentences, 439 speakers: LibriSpeech, VCTK, LJSpeech, speechocean762; "
                "whole sentences of the `train` speakers)" if "speech_read" in str(m)
                else "the old pool (`$CSPEC_DATA/manifest.csv`, 1.9 h, mostly isolated words; training speakers)")
        parts.append(f"{what}, weight {w:g}")
        del m
    return "speech drawn by weight from " + " and ".join(parts)


def deb_data(minutes: float) -> str:
    return (f", the recorded noise being the pool's 7.5 min and {minutes:.0f} min of non-speech sounds from "
            "Debian packages (`recipes/pool/debian_noise.py`: city and nature ambience, machines, tools, footsteps, "
            "fire, water, bells, rings, instrumental music)")


def exportable(folder: Path) -> bool:
    """Write ``folder/model.onnx`` (what Enhancer runs when onnxruntime is installed); False for a model that
    ``cspec export`` does not cover (the bundle then has no export and the card one backend)."""
    from cspec.errors import ConfigError
    from cspec.infer import export_onnx
    from cspec.models import load

    try:
        export_onnx(load(folder).eval(), folder / "model.onnx")
        return True
    except ConfigError as exc:
        (folder / "model.onnx").unlink(missing_ok=True)
        print(f"no ONNX export: {exc}")
        return False


def onnx_line(name: str, res: dict) -> str:
    o = res.get(f"cspec {name}-onnx")
    if not o or o.get("rtf") is None:
        return ""
    return (f"; through the bundled `model.onnx` (`cspec export`) and onnxruntime (one thread), which `Enhancer` "
            f"and `cspec enhance` run when onnxruntime is installed: real-time factor {o['rtf']:.4f}, PESQ-WB "
            f"{o.get('dev', {}).get('pesq_wb', float('nan')):.3f}")


def noises(recipe: dict) -> str:
    """The simulation's noise types in words, e.g. 'recorded, shaped and babble'."""
    sim = recipe["data"]["train"].get("sim") or {}
    kinds = ["recorded" if k == "file" else k for k, w in (sim.get("noise_types") or {"file": 1, "coloured": 1, "babble": 1}).items()
             if w > 0]
    return ", ".join(kinds[:-1]) + " and " + kinds[-1] if len(kinds) > 1 else kinds[0]


def objective(recipe: dict) -> str:
    """The loss terms and weights of a recipe, and its discriminator."""
    text = " + ".join(f"{w:g} x `{k}`" for k, w in recipe["loss"]["weights"].items())
    disc = recipe.get("discriminator")
    if disc:
        text += f" + {disc.get('weight', 0.05):g} x MetricGAN generator loss (discriminator predicting PESQ-WB)"
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="bundled name (folder under src/cspec/pretrained)")
    p.add_argument("--run", type=Path, required=True, help="the training run folder")
    p.add_argument("--recipe", type=Path, required=True, help="the recipe the run used (as committed)")
    p.add_argument("--model", type=Path, help="model folder to bundle (default: RUN/model)")
    p.add_argument("--skip-copy", action="store_true", help="measure the already bundled weights")
    p.add_argument("--note", default="", help="how the model.init weights were made (one line, for the card)")
    p.add_argument("--about", default="", help="a paragraph under the card's title (why this model)")
    p.add_argument("--lineage", type=Path, help="markdown file: the lineage table (what was tried, measured)")
    p.add_argument("--rebuild", default="", help="the one command that rebuilds the model from scratch")
    args = p.parse_args(argv)
    import yaml

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _results import machine

    host = machine().split(", torch")[0]
    dst = PRETRAINED / args.name
    if not args.skip_copy:
        src = args.model or args.run / "model"
        if not (src / "model.safetensors").is_file():
            p.error(f"{src}: no model.safetensors (a finished run's model/ or cspec.train.export_checkpoint)")
        tmp = PRETRAINED / f".{args.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for f in ("model.safetensors", "config.json"):
            shutil.copy2(src / f, tmp / f)
        exportable(tmp)
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    else:  # the bundled weights as they are; their export made again so that it cannot be stale
        exportable(dst)
    recipe = yaml.safe_load(args.recipe.read_text())
    rel = args.recipe.resolve().relative_to(ROOT) if args.recipe.resolve().is_relative_to(ROOT) else args.recipe
    weights = (dst / "model.safetensors").read_bytes()
    files = {"size": len(weights), "sha256": hashlib.sha256(weights).hexdigest(),
             "onnx_size": (dst / "model.onnx").stat().st_size if (dst / "model.onnx").is_file() else 0,
             "real": sorted((DATA / "dev_noisy_real").glob("*"))}
    d = describe(dst)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "res.json"
        # both backends of the bundled folder: PyTorch, and its model.onnx through onnxruntime
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "enhance.py"), "--peers", "", "--real",
                        "--cspec", f"{args.name}={dst}@torch",
                        *(["--cspec", f"{args.name}-onnx={dst}@onnx"] if files["onnx_size"] else []),
                        "--json", str(out)], check=True)
        res = json.loads(out.read_text())
    text = card(args.name, rel, recipe, host, d, training_info(args.run), res, files, args.note, args.about,
                args.lineage.read_text() if args.lineage else "", args.rebuild)
    (dst / "MODEL_CARD.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
