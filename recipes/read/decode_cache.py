"""Decode every compressed file of a pool manifest once into the decode cache that training reads.

``cspec.data.SimulatedDataset`` decodes an Ogg Opus file the first time it draws it (:mod:`cspec.data.cache`);
running this first moves that work out of the first epochs and says how large the cache is. The cache folder
is the one the datasets use by default (``$CSPEC_CACHE/decoded``, else ``~/.cache/cspec/decoded``) unless
``--cache`` names another (then give the recipe the same folder as ``decode_cache``).

    python recipes/read/decode_cache.py                      # $CSPEC_DATA/speech_read, every split
    python recipes/read/decode_cache.py --manifest DIR_OR_CSV --cache DIR

Measured on the development machine (one core, the other one busy): speech_read, 5046 files, 6.25 h of audio,
721 MB of float16 copies, decoded in 45.6 s (493 x real time); a second run finds them all and decodes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cspec.data import DataError, DecodedCache, read_pool
from cspec.data.datasets import default_data_root


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, default=None, help="pool manifest or its folder "
                    "(default: $CSPEC_DATA/speech_read)")
    ap.add_argument("--cache", type=Path, default=None, help="cache folder (default: the datasets' default)")
    ap.add_argument("--sr", type=int, default=16000, help="rate the pool is read at (the cache is per rate)")
    args = ap.parse_args(argv)
    manifest = args.manifest.expanduser() if args.manifest else default_data_root() / "speech_read"
    try:
        items = read_pool(manifest, "speech") + _noise(manifest)
        cache = DecodedCache(args.cache, args.sr)
        todo = [it for it in items if cache.handles(it.path)]
        if not todo:
            print(f"{manifest}: no compressed file listed; nothing to decode")
            return 0
        new, start = 0, time.perf_counter()
        for i, it in enumerate(todo, 1):
            new += not cache.entry(it.path).is_file()
            cache(it.path)
            if i % 500 == 0:
                print(f"{i}/{len(todo)} files", flush=True)
        seconds = time.perf_counter() - start
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = sum(cache.entry(it.path).stat().st_size for it in todo)
    hours = sum(it.duration for it in todo) / 3600
    print(f"{len(todo)} files ({new} decoded now), {hours:.2f} h of audio, {size / 1e6:.0f} MB in {cache.folder}; "
          f"{seconds:.1f} s" + (f" ({hours * 3600 / seconds:.0f} x real time)" if new == len(todo) else ""))
    return 0


def _noise(manifest: Path) -> list:
    try:
        return read_pool(manifest, "noise")
    except DataError:  # a pool of speech only
        return []


if __name__ == "__main__":
    sys.exit(main())
