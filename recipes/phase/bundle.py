"""Bundle the learned phase family `phase` (issue #23): copy each training run's model folder into
src/cspec/pretrained/phase/<preset>/ and write the family's MODEL_CARD.md from the runs and the measured tables.

    python recipes/phase/bundle.py --runs runs/phase/nspp128 runs/phase/nspp256 --results benchmarks/RESULTS.md

The card quotes, verbatim, the sections of --results whose title starts with "Phase retrieval: learned"
(written by `benchmarks/phase_retrieval.py --learned ...`), so the numbers in it are the committed measurements.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import sections  # noqa: E402
DEST = REPO / "src" / "cspec" / "pretrained" / "phase"


def run_facts(run: Path) -> dict:
    from cspec.models import load

    model = load(run / "model")
    if (run / "summary.json").is_file():  # a finished run
        summary = json.loads((run / "summary.json").read_text())
    else:  # a run stopped early and exported (cspec.train.checkpoint.export_checkpoint): its latest checkpoint
        from cspec.train.checkpoint import latest_checkpoint

        state = json.loads((latest_checkpoint(run) / "state.json").read_text())
        summary = {"steps": state["step"], "skipped": state["training"].get("skipped", 0),
                   "valid": state.get("valid") or {}, "stopped": state["recipe"]["trainer"]["max_steps"]}
    return {"model": model, "summary": summary, "params": sum(p.numel() for p in model.parameters()),
            "preset": model.preset, "recipe": run / "recipe.yaml"}


def card(facts: list[dict], tables: list[str], runs: list[Path], lineage: str = "") -> str:
    rows = []
    for f, run in zip(facts, runs):
        s = f["summary"]
        stopped = f" (stopped early, of a {s['stopped']}-step schedule)" if "stopped" in s else ""
        valid = f"PESQ-WB {s['valid']['pesq_wb']:.3f}" if "pesq_wb" in s.get("valid", {}) else "not validated"
        rows.append(f"| `{f['preset']}` | `{f['model'].name}`, {f['params'] / 1e6:.2f} M parameters, "
                    f"{f['model'].receptive_field()} frames of context each side | {s['steps']} steps, "
                    f"{s.get('skipped', 0)} skipped{stopped} | {valid} (the prediction alone, no FGLA) |")
    lines = [
        "# cspec pretrained model family `phase`",
        "",
        "Learned phase retrieval (issue #23): the phase of a magnitude spectrogram predicted in one pass by NSPP",
        "(Ai & Ling 2023, parallel estimation architecture, `cspec/models/phase_predictor.py`), then a few",
        "iterations of fast Griffin-Lim (Perraudin et al. 2013) from that phase (`cspec.phase.reconstruct(method=",
        "\"learned\")`, `cspec reconstruct --method learned`). One model per STFT; any other STFT is refused in one",
        "line naming these:",
        "",
        "| STFT preset | model | training | simulated dev set (4 s clips) |",
        "|---|---|---|---|",
        *rows,
        "",
        "| | |",
        "|---|---|",
        "| input / output | magnitude `(..., 257, frames)` of a periodic-Hann STFT, n_fft 512, centred with zeros "
        "(librosa's defaults for that size), 16 kHz speech; the phase / the waveform |",
        "| objective | the anti-wrapping losses of the paper (instantaneous phase, group delay, instantaneous "
        "frequency; weight 0.3) and the power-compressed magnitude + complex loss (c = 0.3), both on the STFT of "
        "the rebuilt waveform (consistency); see the recipes |",
        "| recipes | `recipes/phase/nspp128.yaml`, `recipes/phase/nspp256.yaml` "
        "(`CSPEC_DATA=../shared/data OMP_NUM_THREADS=1 cspec train RECIPE`) |",
        "| rebuild from scratch | `bash recipes/phase/rebuild.sh` (both trainings side by side on two CPU threads, "
        "about 1.5 h, then the benchmark and this card) |",
        "| data | clean speech only: whole sentences of the `train` speakers of `speech_read` (weight 0.7) and the "
        "old pool's training speakers (0.3), at -35 to -15 dBFS with random EQ |",
        "| causal | no: each frame sees the context above on both sides; long inputs run in blocks of 2000 frames "
        "with that context (exact) |",
        "| weights | `<preset>/model.safetensors` + `config.json` (no ONNX export: `LearnedPhase` runs PyTorch) |",
        "| licence | weights MIT (as cspec); trained on the shared pool (see `$CSPEC_DATA/README.md`) |",
        "",
        "## Measured",
        "",
        "Copied from `benchmarks/RESULTS.md` (each section names the command that wrote it):",
        "",
        *[t + "\n" for t in tables],
        "## Limits",
        "",
        "Trained on a 2-core CPU for the steps above, at 64 channels against the paper's 512. **It does not reach",
        "PGHI+FGLA**: on the tables above, PGHI (compiled heap integration, `cspec.phase`) is a better starting phase",
        "for FGLA than this prediction at every iteration count, so for quality use `--method pghi+fgla`; the learned",
        "method is the fastest route only where a few FGLA iterations are all the time there is, and even there PGHI",
        "alone is close in time. Trained on clean read speech at 16 kHz: other signals (music, noisy or enhanced",
        "speech, other rates) were not trained for.",
        "",
        *(["## Lineage", "", lineage.strip(), ""] if lineage.strip() else []),
        f"Card written by `python recipes/phase/bundle.py` on {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, nargs="+", required=True, help="training run folders (with model/)")
    p.add_argument("--results", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    p.add_argument("--dest", type=Path, default=DEST)
    p.add_argument("--lineage", type=Path, default=Path(__file__).with_name("lineage.md"),
                   help="markdown of what was tried, quoted as the card's Lineage")
    args = p.parse_args(argv)
    facts = [run_facts(r) for r in args.runs]
    presets = [f["preset"] for f in facts]
    if len(set(presets)) != len(presets):
        sys.exit(f"bundle: two runs for the same STFT preset ({presets})")
    args.dest.mkdir(parents=True, exist_ok=True)
    for f, run in zip(facts, args.runs):
        target = args.dest / f["preset"]
        if target.exists():
            shutil.rmtree(target)
        target.mkdir()
        for name in ("config.json", "model.safetensors"):
            shutil.copy2(run / "model" / name, target / name)
    lineage = args.lineage.read_text() if args.lineage.is_file() else ""
    text = card(facts, sections(args.results, "Phase retrieval: learned"), args.runs, lineage)
    (args.dest / "MODEL_CARD.md").write_text(text)
    print(f"bundled {', '.join(presets)} in {args.dest} with MODEL_CARD.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
