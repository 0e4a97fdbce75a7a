"""``cspec export``: write a model as ONNX (STFT and iSTFT inside); thin over :func:`cspec.infer.export_onnx`."""

from __future__ import annotations

import argparse
from pathlib import Path

from cspec.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export a model to ONNX (offline or streaming frames), STFT included",
        description="Export a bundled model (by name) or a model folder (cspec.models.save) to ONNX with its\n"
        "STFT and iSTFT as convolutions (no complex types). 'offline': wave in, wave out; 'frames': one\n"
        "streaming step with its states (run it with cspec.infer.Stream(cspec.infer.OnnxModel(FILE))).",
        epilog="examples:\n  cspec export runs/gtcrn/model -o gtcrn.onnx\n"
        "  cspec export runs/gtcrn/model -o gtcrn_frames.onnx --mode frames",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="NAME|PATH", help="bundled model name or model folder")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="the .onnx file to write")
    p.add_argument("--mode", choices=("offline", "frames"), default="offline", help="graph kind (default: offline)")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cspec.audio.fs import check_writable
    from cspec.infer import export_onnx, resolve_model

    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise ConfigError(f"{out}: the file exists; pass --overwrite to replace it")
    check_writable(out)  # before the export, in one line: permission denied, read-only, not a directory ...
    model = resolve_model(args.model)
    export_onnx(model, out, mode=args.mode)
    print(f"exported {getattr(model, 'name', args.model)} ({args.mode}, {model.sample_rate} Hz, "
          f"look-ahead {model.lookahead()} samples) to {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0
