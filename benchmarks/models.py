"""Every registered architecture at its paper configuration: size, compute, CPU speed.

Per model: parameters (all, frozen ones included) against the paper's count, multiply-accumulates per second of
audio (counted with ``torch.utils.flop_counter.FlopCounterMode`` on a 1 s input, MACs = FLOPs / 2; LSTM cells are
counted through their matrix products), CPU inference real-time factor (seconds of compute per second of audio,
``--infer-seconds`` clip, batch 1, ``torch.inference_mode``) and the time of one training step (forward, backward,
Adam) on a batch of ``--batch`` clips of ``--train-seconds``. Writes the ``## Models`` section of RESULTS.md and the
parameter table of docs/models.md.

    .venv/bin/python benchmarks/models.py --out benchmarks/RESULTS.md --docs docs/models.md
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime
from pathlib import Path

import torch
from _results import machine, write_section
from torch.utils.flop_counter import FlopCounterMode

from cspec.errors import ConfigError
from cspec.models import build, get_model_class, list_models

SECTION = "## Models"


def _lstm_macs(module: torch.nn.LSTM, inputs) -> int:
    """MACs of one ``nn.LSTM`` call: 4 gates x hidden x (layer input + hidden) per step, direction and layer (the
    matrix products; ``FlopCounterMode`` does not see inside torch's fused LSTM kernel, while it counts GRUs)."""
    x = inputs[0]
    x = x.data if isinstance(x, torch.nn.utils.rnn.PackedSequence) else x
    steps = x.shape[0] if x.dim() == 2 else x.shape[0] * x.shape[1]  # time x batch
    dirs, h = 2 if module.bidirectional else 1, module.hidden_size
    out = module.proj_size or h
    total = 0
    for layer in range(module.num_layers):
        width = module.input_size if layer == 0 else out * dirs
        total += dirs * steps * (4 * h * (width + out) + (h * out if module.proj_size else 0))
    return total


def macs_per_second(model, sr: int) -> float:
    x = torch.randn(1, sr)
    lstm = [0]
    hooks = [m.register_forward_hook(lambda mod, inp, _out: lstm.__setitem__(0, lstm[0] + _lstm_macs(mod, inp)))
             for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return counter.get_total_flops() / 2 + lstm[0]


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench(name: str, args) -> dict:
    model = build(name).eval()
    # a generative model: one network pass per call (its samplers take `steps` passes), trained on its own loss
    generative = callable(getattr(model, "training_loss", None))
    passes = 1
    if generative:
        try:
            model.steps = 1
        except ConfigError:  # a predictor-corrector sampler makes two passes a step
            model.steps = passes = 2
    sr = model.sample_rate
    row = {"name": name, "params": model.n_parameters(trainable_only=False), "paper": model.paper_params, "sr": sr,
           "causal": model.causal, "lookahead_ms": 1000 * model.lookahead() / sr if model.causal else None,
           "per_pass": generative}
    row["macs"] = macs_per_second(model, sr) / passes
    x = torch.randn(1, int(args.infer_seconds * sr))
    with torch.inference_mode():
        row["rtf"] = timed(lambda: model(x), args.repeats) / args.infer_seconds / passes
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    xb = torch.randn(args.batch, int(args.train_seconds * sr))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.training_loss(xb, 0.5 * xb)[0] if generative else model(xb)["wave"].pow(2).mean()
        loss.backward()
        opt.step()

    row["train_s"] = timed(step, max(1, args.repeats // 2))
    return row


def fmt_m(n: float) -> str:
    return f"{n / 1e6:.3f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"


def tables(rows: list[dict], args) -> tuple[str, str]:
    head = (f"{SECTION}\n\nCommand: `.venv/bin/python benchmarks/models.py {args.cmdline}`  \n"
            f"Machine: {machine()}  \nDate: {datetime.now():%Y-%m-%d %H:%M}\n\n"
            f"Paper configuration of every registered model. MACs per second of audio counted by "
            f"`FlopCounterMode` (FLOPs / 2) on 1 s; RTF = inference seconds per second of audio "
            f"({args.infer_seconds:g} s clip, batch 1); train step = forward + backward + Adam on "
            f"{args.batch} x {args.train_seconds:g} s. Generative models (*): MACs and RTF of one network pass "
            f"(their samplers make `steps` passes), the train step on their own training loss.\n\n"
            "| model | rate | params | paper | GMACs/s | causal (look-ahead) | CPU RTF | train step (s) |\n"
            "|---|---:|---:|---:|---:|---|---:|---:|\n")
    body = ""
    for r in rows:
        paper = f"{r['paper']:g} M" if r["paper"] else "—"
        causal = f"yes ({r['lookahead_ms']:.1f} ms)" if r["causal"] else "no"
        star = " *" if r["per_pass"] else ""
        body += (f"| `{r['name']}`{star} | {r['sr'] // 1000} kHz | {fmt_m(r['params'])} | {paper} | {r['macs'] / 1e9:.2f} "
                 f"| {causal} | {r['rtf']:.3f} | {r['train_s']:.2f} |\n")
    docs = ("| model | paper | paper's parameters | ours | difference |\n|---|---|---:|---:|---:|\n")
    for r in rows:
        cls = get_model_class(r["name"])
        if r["paper"]:
            diff = 100 * (r["params"] / (r["paper"] * 1e6) - 1)
            docs += f"| `{r['name']}` | {cls.paper} | {r['paper']:g} M | {fmt_m(r['params'])} | {diff:+.1f} % |\n"
        else:
            docs += f"| `{r['name']}` | {cls.paper} | not reported | {fmt_m(r['params'])} | — |\n"
    return head + body, docs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="all", help="comma-separated registry names (default: all)")
    p.add_argument("--infer-seconds", type=float, default=4.0)
    p.add_argument("--train-seconds", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", type=Path, help="RESULTS.md whose '## Models' section is replaced")
    p.add_argument("--docs", type=Path, help="docs/models.md whose parameter table is replaced")
    args = p.parse_args(argv)
    args.cmdline = " ".join(a for a in (argv or __import__("sys").argv[1:]))
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [n for n in list_models() if not n.startswith("_")] if args.models == "all" else args.models.split(",")
    rows = []
    for name in names:
        torch.manual_seed(0)
        row = bench(name, args)
        print(f"{name:16s} {fmt_m(row['params']):>10s}  {row['macs'] / 1e9:7.2f} GMACs/s  RTF {row['rtf']:.3f}  "
              f"train {row['train_s']:.2f} s", flush=True)
        rows.append(row)
    section, docs_table = tables(rows, args)
    print(section)
    if args.out:
        write_section(args.out, SECTION, section)
    if args.docs:
        text = args.docs.read_text()
        start, end = text.index("<!-- params:start -->"), text.index("<!-- params:end -->")
        args.docs.write_text(text[: start + len("<!-- params:start -->")] + "\n" + docs_table + text[end:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
