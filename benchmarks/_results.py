"""Shared by the benchmark scripts and the bundling scripts: the machine's description, and the section writer
and reader of RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

HEADER = "# Benchmarks\n\nResults of the scripts in this folder.\n"


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (or what platform knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    import torch

    return (f"{cpu_name()}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}, {platform.system()}")


def write_section(path: Path, heading: str, body: str) -> None:
    """Replace the section that starts with the line ``heading`` (e.g. ``## Models``) or append it.

    ``body`` starts with the heading line itself; the other sections of the file are left as they are.
    """
    old = path.read_text() if path.exists() else HEADER
    start = old.find(heading + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + body
    else:
        nxt = old.find("\n## ", start + len(heading))
        new = old[:start] + body.rstrip("\n") + ("\n\n" + old[nxt + 1:] if nxt >= 0 else "")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new.rstrip("\n") + "\n")
    os.replace(tmp, path)


def sections(results: Path, prefix: str) -> list[str]:
    """The markdown sections (``## ...`` to the next ``## ``) whose title starts with ``prefix``."""
    if not results.is_file():
        return []
    out, cur = [], None
    for line in results.read_text().splitlines():
        if line.startswith("## "):
            if cur is not None:
                out.append("\n".join(cur).strip())
            cur = [line.replace("## ", "### ", 1)] if line[3:].startswith(prefix) else None
        elif cur is not None:
            cur.append(line)
    if cur is not None:
        out.append("\n".join(cur).strip())
    return out
