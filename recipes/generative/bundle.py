"""Bundle the generative enhancer `generative` (issue #24): copy a training run's model into
src/cspec/pretrained/generative/ with its number of network passes set, and write MODEL_CARD.md from the runs and
the measured tables.

    python recipes/generative/bundle.py --run runs/generative/sbridge-w --steps 2 --twin runs/generative/predictive-b

The card quotes, verbatim, the sections of --results whose title starts with "Generative enhancement" (written by
`benchmarks/generative.py`), so its numbers are the committed measurements. Each run's lineage of model.init
folders (a continued run names the folder it started from) is followed back to its first run, and the steps of
every stage are added up.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import sections  # noqa: E402

DEST = REPO / "src" / "cspec" / "pretrained" / "generative"


def stages(run: Path, init_steps: int | None = None, init_cost: int | None = None) -> list[dict]:
    """The run and the runs it continued (``model.init``), oldest first: name, steps, lr, seed. A run that started
    from a bundled model by name (``model.init=generative``) ends the chain with that model, counted as
    ``init_steps`` optimiser steps that cost ``init_cost`` single-pass steps (its own card's stages;
    ``recipes/generative/rebuild.sh`` chains run folders instead)."""
    out = []
    while run is not None and (run / "recipe.yaml").is_file():
        recipe = yaml.safe_load((run / "recipe.yaml").read_text())
        summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
        done = int(summary.get("steps", recipe["trainer"]["max_steps"]))
        passes = int((recipe["model"].get("options") or {}).get("crp_steps") or 1)  # a CRP step runs them all
        init = recipe["model"].get("init") or ""
        out.append({"run": run, "steps": done, "lr": recipe["optim"]["lr"], "seed": recipe.get("seed"),
                    "valid": summary.get("valid", {}), "cost": done * passes, "init": init})
        if init and "/" not in init and (DEST.parent / init).is_dir():
            if init_steps is None:
                sys.exit(f"bundle: {run} started from the bundled `{init}`: give its steps with --init-steps")
            out.append({"run": Path(f"{init} (bundled before)"), "steps": int(init_steps), "lr": "—", "seed": "—",
                        "valid": {}, "cost": int(init_cost or init_steps),
                        "init": "(its stages: `recipes/generative/lineage.md`)"})
            break
        init = Path(init) if not init or Path(init).is_absolute() else REPO / init
        run = None if not str(init) or init == Path() else init.parent if init.name == "model" else _run_of(init)
        base, _, steps = init.name.rpartition("-")
        source = REPO / "recipes" / "generative" / f"{base}.yaml"
        if str(init) and init != Path() and run is None and steps.isdigit() and source.is_file():
            # a kept folder (wip/generative/NAME-STEPS) whose runs are gone with their machine: the recipe of the
            # same name from scratch, possibly continued (wip/README.md says how), STEPS in all
            out.append({"run": init, "steps": int(steps), "lr": "—", "seed": "—", "valid": {}, "cost": int(steps),
                        "init": f"(`{source.relative_to(REPO)}` from scratch and its continuations, `wip/README.md`; "
                                "run folders not kept)"})
    return out[::-1]


def _run_of(init: Path) -> Path | None:
    """The run folder a model folder was copied from: ``wip/generative/flowse-800`` came from
    ``runs/generative/flowse`` (its name without the step suffix); None where there is no such run."""
    guess = REPO / "runs" / init.parent.name / init.name.rsplit("-", 1)[0]
    return guess if (guess / "recipe.yaml").is_file() else None


def history(runs: list[dict]) -> str:
    rows = []
    for s in runs:
        v = s["valid"]
        valid = (f"PESQ-WB {v['pesq_wb']:.3f}, SI-SDR {v['si_sdr']:.2f} dB" if "pesq_wb" in v else "—")
        start = (s["init"] if s["init"].startswith("(") else f"from `{s['init']}`") if s["init"] else "from scratch"
        rows.append(f"| `{s['run'].relative_to(REPO) if s['run'].is_relative_to(REPO) else s['run']}` | {start} | "
                    f"{s['steps']} | {s['lr']} | {s['seed']} | {valid} |")
    return "\n".join(["| run | start | steps | lr | seed | simulated valid (10 clips, 4 s) |",
                      "|---|---|---:|---:|---:|---|", *rows])


def card(model, steps: int, run: Path, twin: Path | None, tables: list[str], lineage: str,
         init_steps: int | None = None, init_cost: int | None = None) -> str:
    own = stages(run, init_steps, init_cost)
    steps_done = sum(s["steps"] for s in own)
    cost = sum(s["cost"] for s in own)  # single-pass steps: a CRP step runs its passes forward and back
    trained = (f"{steps_done} optimiser steps (about {cost} single-pass steps of CPU)" if cost != steps_done
               else f"{steps_done} steps")
    lines = [
        "# cspec pretrained model `generative`",
        "",
        f"Generative speech enhancement on the complex spectrogram (issue #24): `{model.name}`, "
        f"{type(model).__doc__.strip().splitlines()[0]} Its network is the compact NCSN++ "
        f"(`cspec/models/ncsnpp.py`, {model.n_parameters() / 1e6:.2f} M parameters; the paper's is 65.6 M); "
        f"{steps} network passes per enhancement by default (`--steps N` changes it)"
        + (f", {model.config['sampler'].upper()} sampler." if "sampler" in model.config else "."),
        "`cspec enhance FILES --model generative [--steps N]` and "
        "`cspec.infer.Enhancer.from_pretrained('generative', steps=N)`.",
        "",
        "| | |",
        "|---|---|",
        "| input / output | a noisy recording at any rate and channel count (processed at 16 kHz on the sgmse STFT: "
        "510-point periodic Hann, hop 128, 0.15 |X|^0.5) / the enhanced waveform at the input's rate |",
        "| causal | no: the network sees the whole spectrogram (long files run in chunks, crossfaded) |",
        f"| training | {trained} of 4 noisy/clean pairs of 1.5 s in all, on one CPU thread (stages below); "
        "its own objective (`model.training_loss`), Adam with cosine decay, EMA 0.99 |",
        "| data | the mixtures of `recipes/read/tiny.yaml`: whole sentences of speech_read's `train` speakers "
        "(weight 0.7) and the old pool (0.3); recorded noise of the pool and Debian's sound packages (train rows), "
        "babble, tonal and coloured noise; mild reverberation |",
        "| predictive twin | the same network trained to map noisy to clean in one pass on the same data "
        + (f"(`{twin.relative_to(REPO) if twin.is_relative_to(REPO) else twin}`; its steps are under Training "
           "stages): the tables compare them |" if twin else
           "(its stages are in the lineage table below; its run folder was not kept): the tables compare them |"),
        "| weights | `model.safetensors` + `config.json`; no ONNX file is bundled, so that `--steps` stays free: "
        "`cspec export generative -o g.onnx` writes the whole sampler at the bundled passes, unrolled"
        + (" (`cspec.infer.onnx_generative`; the ODE sampler draws no noise) |" if model.config.get("sampler") == "ode"
           else ", with its random draws as an input (`cspec.infer.onnx_generative`) |"),
        "| rebuild from scratch | `bash recipes/generative/rebuild.sh` |",
        "| licence | weights MIT (as cspec); trained on the shared pool (see `$CSPEC_DATA/README.md`) |",
        "",
        "## Training stages",
        "",
        history(own),
        "",
        *(["Its twin:", "", history(stages(twin)), ""] if twin else []),
        "## Measured",
        "",
        "Copied from `benchmarks/RESULTS.md` (each section names the command that wrote it):",
        "",
        *[t + "\n" for t in tables],
        "## Limits",
        "",
        f"A compact network trained for {trained} of batch 4 on one CPU core: far below the published systems",
        "(SGMSE+, FlowSE and the Schrödinger bridge train 65 M-parameter networks for days on GPUs). Compare it",
        "with its predictive twin in the tables above (the lineage says on which budgets); `default`, a causal",
        "enhancer trained much longer, is better than both. It is bundled so that the generative path can be run",
        "and studied end to end.",
        "",
        *(["## Lineage", "", lineage.strip(), ""] if lineage.strip() else []),
        f"Card written by `python recipes/generative/bundle.py` on {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    from cspec.models import load

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True, help="the training run folder (with model/)")
    p.add_argument("--steps", type=int, required=True, help="network passes of the bundled model")
    p.add_argument("--twin", type=Path, help="the predictive twin's run folder")
    p.add_argument("--results", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    p.add_argument("--dest", type=Path, default=DEST)
    p.add_argument("--lineage", type=Path, default=Path(__file__).with_name("lineage.md"))
    p.add_argument("--init-steps", type=int, help="steps of a bundled model the run started from by name")
    p.add_argument("--init-cost", type=int,
                   help="the same model's cost in single-pass steps (CRP steps count their passes; default: --init-steps)")
    args = p.parse_args(argv)
    args.run, args.twin = args.run.resolve(), args.twin.resolve() if args.twin else None
    folder = args.run / "model"
    if not (folder / "model.safetensors").is_file():
        sys.exit(f"bundle: {folder} has no model.safetensors (a finished run's model/)")
    if args.dest.exists():
        shutil.rmtree(args.dest)
    args.dest.mkdir(parents=True)
    shutil.copy2(folder / "model.safetensors", args.dest / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    config["config"]["steps"] = int(args.steps)
    (args.dest / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    model = load(args.dest).eval()
    lineage = args.lineage.read_text() if args.lineage.is_file() else ""
    text = card(model, args.steps, args.run, args.twin, sections(args.results, "Generative enhancement"), lineage,
                args.init_steps, args.init_cost)
    (args.dest / "MODEL_CARD.md").write_text(text)
    print(f"bundled {model.name} ({args.steps} passes) in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
