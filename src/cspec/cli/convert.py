"""``cspec convert``: a published checkpoint -> a cspec model folder; thin over :func:`cspec.models.convert`."""

from __future__ import annotations

import argparse
from pathlib import Path

from cspec.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    from cspec.models.convert import CONVERTERS

    p = subparsers.add_parser(
        "convert", help="turn a published checkpoint into a cspec model folder (tensors only, no pickled code)",
        description="Read an official checkpoint with torch.load(weights_only=True) (or safetensors), rename and\n"
        "transform its tensors into the cspec architecture and write a model folder (model.safetensors +\n"
        "config.json) that cspec enhance, eval, export and train (model.init) take.",
        epilog="examples:\n  cspec convert model_trained_on_dns3.tar -o models/gtcrn-dns3\n"
        "  cspec enhance noisy/ -o enhanced/ --model models/gtcrn-dns3",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="FILE", help="the published checkpoint (.tar/.pt/.pth/.ckpt/.safetensors)")
    p.add_argument("-o", "--output", metavar="FOLDER", required=True, help="the model folder to write")
    p.add_argument("--arch", choices=sorted(CONVERTERS), default="gtcrn",
                   help="the official code the checkpoint comes from (default: gtcrn)")
    p.add_argument("--overwrite", action="store_true", help="replace the folder's model if it holds one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cspec.audio.fs import check_writable
    from cspec.models.convert import convert_state_dict, read_checkpoint
    from cspec.models.io import CONFIG_NAME, WEIGHTS_NAME, save

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; give a folder to write the model into")
    if (out / CONFIG_NAME).exists() and not args.overwrite:
        raise ConfigError(f"{out}: holds a model; pass --overwrite to replace it")
    src = Path(args.checkpoint)
    if (out / WEIGHTS_NAME).resolve() == src.resolve():
        raise ConfigError(f"{src}: would be overwritten by the converted weights; give another output folder")
    check_writable(out / CONFIG_NAME)
    model = convert_state_dict(read_checkpoint(src), args.arch)
    save(model, out)
    print(f"converted {src} ({args.arch}, {model.n_parameters() / 1e3:.1f} k parameters) to {out}")
    return 0
