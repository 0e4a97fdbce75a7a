"""The ``cspec`` command line: thin sub-commands over the public Python API.

Each sub-command lives in its own module of this package and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` to a callable taking the parsed arguments and returning an exit code. This is
the only place of cspec that parses arguments or prints. Errors of the package (:class:`cspec.CspecError`)
become one line on stderr and exit code 2, and so do file-system errors (the path and the reason); Ctrl-C
exits with 130 and SIGTERM with 143, after removing what was partly written.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
import warnings

from cspec import __version__
from cspec.errors import Cancelled, CspecError

#: sub-command modules, in the order ``cspec --help`` lists them
SUBCOMMANDS = ["reconstruct", "plot", "eval", "train", "enhance", "separate", "export", "convert", "serve"]


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors kept to one line plus a hint (no usage dump)."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cspec",
        description="Deep learning on complex speech spectrograms: reconstruct, plot, evaluate, train, enhance, export.",
        epilog="Run 'cspec COMMAND --help' for the options of one command.\n\nexamples:\n"
        "  cspec reconstruct speech.flac -o rebuilt.wav --method pghi+fgla\n"
        "  cspec plot speech.flac rebuilt.wav -o compare.png\n"
        "  cspec eval --ref clean/ --est enhanced/ --noisy noisy/ --csv scores.csv\n"
        "  cspec train recipes/pool/gtcrn.yaml --out runs/gtcrn optim.lr=5e-4\n"
        "  cspec enhance noisy/ -o enhanced/ --model runs/gtcrn/model\n"
        "  cspec export runs/gtcrn/model -o gtcrn.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"cspec.cli.{name}").register(sub)
    return parser


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so that a command stops as it does on Ctrl-C (exit 143)."""


def _on_sigterm(signum, frame) -> None:  # noqa: ARG001 - signal handler API
    raise Terminated()


def _one_line_warnings(command: str) -> None:
    """Print cspec's own warnings (:class:`cspec.errors.AudioWarning`) as one line each on stderr."""
    from cspec.errors import AudioWarning

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, AudioWarning):
            print(f"cspec {command}: warning: {message}", file=sys.stderr, flush=True)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("always", AudioWarning)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    _one_line_warnings(args.command)
    try:
        return int(args.func(args) or 0)
    except CspecError as exc:
        print(f"cspec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file-system failure no layer below turned into a CspecError: still one line
        from cspec.audio.fs import os_reason

        where = f"{exc.filename}: " if exc.filename else ""
        print(f"cspec {args.command}: error: {where}{os_reason(exc)}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Cancelled):
        print(f"cspec {args.command}: interrupted; partly written outputs removed", file=sys.stderr)
        return 130
    except Terminated:
        print(f"cspec {args.command}: terminated; partly written outputs removed", file=sys.stderr)
        return 143


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
