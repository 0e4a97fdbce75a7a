"""Helpers shared by recipes/pool/debian_noise.py and debian_speech.py: fetch a Debian package's files with
``apt-get download`` (no root needed, nothing is installed), and write a pool manifest in the shared data's
format with the packages' copyright files beside it."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

from cspec.audio import save
from cspec.models.io import atomic_write_text

SR = 16000

HEADER = ["path", "duration_s", "kind", "speaker", "source", "license"]


class FetchError(RuntimeError):
    """A package could not be downloaded or unpacked; the message is one line for the user."""


def fetch(pkg: str, tmp: Path) -> Path:
    """The unpacked files of package ``pkg`` under ``tmp/pkg`` (downloaded once per ``tmp``)."""
    root = tmp / pkg
    if root.is_dir():
        return root
    try:
        got = subprocess.run(["apt-get", "download", pkg], cwd=tmp, capture_output=True, text=True)
    except FileNotFoundError:
        raise FetchError("apt-get not found: this script needs a Debian or Ubuntu machine (or container)") from None
    debs = sorted(tmp.glob(f"{pkg}_*.deb"))
    if got.returncode != 0 or not debs:
        raise FetchError(f"apt-get download {pkg} failed: {got.stderr.strip().splitlines()[-1:]}")
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
    return root


def copy_licence(root: Path, out: Path, pkg: str) -> None:
    """Copy the package's copyright file to ``out/licenses/PKG.copyright``."""
    copyright_file = next(root.rglob("copyright"), None)
    if copyright_file is not None:
        (out / "licenses").mkdir(parents=True, exist_ok=True)
        shutil.copy(copyright_file, out / "licenses" / f"{pkg}.copyright")


def add_file(out: Path, rel: str, x, rows: list[list], kind: str, speaker: str, pkg: str, lic: str) -> None:
    """Write ``x`` (16 kHz) as 16-bit FLAC ``out/rel`` and append its manifest row to ``rows``."""
    save(out / rel, x, SR, overwrite=True, subtype="PCM_16")
    rows.append([rel, f"{len(x) / SR:.3f}", kind, speaker, f"debian:{pkg}", lic])


def write_pool_manifest(out: Path, rows: list[list]) -> int:
    """Write ``out/manifest.csv`` atomically and say how much it lists; returns 0 (the scripts' exit status)."""
    table = io.StringIO()
    csv.writer(table).writerows([HEADER, *rows])
    atomic_write_text(out / "manifest.csv", table.getvalue())
    print(f"{len(rows)} files, {sum(float(r[1]) for r in rows) / 60:.1f} min -> {out / 'manifest.csv'}")
    return 0
