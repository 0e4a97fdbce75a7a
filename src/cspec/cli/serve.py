"""``cspec serve``: the local web page (enhance, separate, reconstruct, live microphone) and its HTTP API, served
by uvicorn; thin over :func:`cspec.serve.create_app`. Binds to 127.0.0.1 unless told otherwise; Ctrl-C stops it
(exit 130), SIGTERM too (143)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket

from cspec.errors import ConfigError

_EPILOG = """the page:
  drop files or record from the microphone, pick a task and a model, get players, spectrogram and phase figures,
  DNSMOS scores and a download link; live mode streams the microphone through a causal model and back

the API (docs/serve.md):
  curl -F file=@noisy.wav http://127.0.0.1:8000/api/enhance -o enhanced.wav
  curl -F file=@mix.wav -F model=sep2 http://127.0.0.1:8000/api/separate -o sources.zip
  curl -F file=@speech.wav -F method=pghi+fgla http://127.0.0.1:8000/api/reconstruct -o rebuilt.wav

examples:
  cspec serve
  cspec serve --port 8080 --model-dir runs/sep/model
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="serve a local web page to enhance, separate and rebuild speech (live microphone included)",
        description="Serve the cspec web page and its HTTP / WebSocket API with uvicorn. Uploads stay in memory\n"
        "(a private temporary file is used for decoding and always removed); work runs in a bounded queue that\n"
        "answers 'busy' (HTTP 503) when full; requests from other origins are refused.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: %(default)s, this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    p.add_argument("--model-dir", metavar="DIR", action="append",
                   help="also offer this model folder (cspec.models.save), under its folder name; repeatable")
    p.add_argument("--max-upload-mb", type=float, default=50.0, metavar="MB",
                   help="largest upload, in MB (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="jobs processed at once (default: 1)")
    p.add_argument("--queue", type=int, default=4, metavar="N",
                   help="jobs held at once, running and waiting; one more is answered 'busy' (default: 4)")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="torch / onnxruntime threads (default 0: the CPU cores shared out between --workers)")
    p.add_argument("--live-sessions", type=int, default=2, metavar="N", help="live sessions at once (default: 2)")
    p.set_defaults(func=run)


def check(args: argparse.Namespace) -> int:
    """Refuse bad options with one line; return the thread count."""
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be 1-65535, got {args.port}")
    if args.workers < 1 or args.queue < args.workers:
        raise ConfigError(f"need --workers >= 1 and --queue >= --workers, got {args.workers} and {args.queue}")
    if not args.max_upload_mb > 0 or args.live_sessions < 0 or args.threads < 0:
        raise ConfigError("--max-upload-mb must be > 0, --live-sessions and --threads >= 0")
    try:
        infos = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {args.host}: not an address of this machine ({exc.strerror})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); pick another --port") from None
    return args.threads or max(1, (os.cpu_count() or 1) // args.workers)


def run(args: argparse.Namespace) -> int:
    threads = check(args)
    try:
        import uvicorn

        from cspec.serve import create_app
    except ImportError as exc:
        raise ConfigError(f"cspec serve needs FastAPI and uvicorn ({exc}); pip install 'cspec[serve]'") from None
    app = create_app(args.model_dir or [], max_upload=int(args.max_upload_mb * 1e6), workers=args.workers,
                     capacity=args.queue, threads=threads, max_live=args.live_sessions)
    try:
        loopback = ipaddress.ip_address(socket.gethostbyname(args.host)).is_loopback
    except (OSError, ValueError):
        loopback = False
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"cspec serve: http://{host}:{args.port}/ (Ctrl-C to stop)"
          + ("" if loopback else f"; listening on {args.host}: other machines can reach it"), flush=True)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", limit_concurrency=64,
                            ws_max_size=1 << 20, timeout_graceful_shutdown=2)
    uvicorn.Server(config).run()
    return 0
