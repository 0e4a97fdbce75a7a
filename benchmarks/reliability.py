"""What every command does with unusual inputs and faults: writes ``docs/reliability.md``.

    .venv/bin/python benchmarks/reliability.py                  # the whole table (about 15 minutes on 2 cores)
    .venv/bin/python benchmarks/reliability.py --quick          # no 30-minute file, fewer fault runs

The inputs are made by ``benchmarks/reliability_corpus.py`` in a temporary folder (nothing committed). Each command
runs in its own process, without the power of root over other users' files (as root, inside ``unshare -r``: the
unreadable input and the locked folder belong to nobody), so that permissions mean what they mean for users, and the table records its exit code, the first line it printed on stderr, its peak
memory, whether it printed a traceback, whether the input is intact and whether it left temporary files. The
faults (an output through a file, a folder without write permission, a read-only and a full file system mounted
with ``unshare -rm``, SIGINT, SIGTERM and SIGKILL in the middle of a run) are made for real in the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reliability_corpus import ROOT, SR, clean, make_corpus, voice  # noqa: E402

CSPEC = [sys.executable, "-m", "cspec"]
#: as root, commands run as root of a user namespace: no power over files of an unmapped user (nobody's, below)
AS_USER = ["unshare", "-r"] if os.geteuid() == 0 else []


def _nobodys(path: Path, mode: int) -> None:
    """Give ``path`` to nobody with ``mode``, so that permissions apply to the commands (see AS_USER)."""
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    path.chmod(mode)


def _digest(path: Path) -> str:
    if path.is_symlink() or not path.is_file():
        return "-"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def run(cmd: list[str], env: dict, wrap: list[str] = (), signal_after=None, timeout=1800) -> dict:
    """Run ``cmd`` (as ordinary user), optionally sending ``signal_after=(sig, ready)`` once ``ready()`` holds."""
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:  # pipes could fill and block
        proc = subprocess.Popen([*wrap, *cmd], stdout=fo, stderr=fe, text=True, env=env)
        stop_time = None
        if signal_after is not None:
            sig, ready = signal_after
            while proc.poll() is None and not ready():
                time.sleep(0.02)
            if proc.poll() is None:
                proc.send_signal(sig)
                stop_time = time.monotonic()
        if proc.returncode is None:
            _, status, usage = os.wait4(proc.pid, 0)
            rc = os.waitstatus_to_exitcode(status)
        else:  # reaped by poll(): no rusage of its own left
            rc, usage = proc.returncode, None
        end = time.monotonic()
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    return {"rc": rc, "out": out, "err": err, "seconds": end - start,
            "stop": None if stop_time is None else end - stop_time,
            "rss_mb": usage.ru_maxrss / 1024 if usage else float("nan")}


def _short(text: str, where: dict[str, str], width: int = 110) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and "━" not in ln]
    line = next((ln for ln in lines if "error" in ln or ln.startswith("failed") or "warning" in ln),
                lines[0] if lines else "")
    for path, name in where.items():
        line = line.replace(path, name)
    line = line.replace("|", "/")
    return line if len(line) <= width else line[: width - 1] + "…"


def cell(r: dict, where: dict[str, str], note: str = "") -> str:
    bad = []
    if "Traceback" in r["err"]:
        bad.append("**traceback**")
    if r["rc"] < 0 or r["rc"] > 128 and r["rc"] not in (130, 143):
        bad.append(f"**killed by signal {abs(r['rc']) if r['rc'] < 0 else r['rc'] - 128}**")
    msg = _short(r["err"] if r["rc"] else (r["err"] if "warning" in r["err"] else r["out"]), where)
    return f"{r['rc']}: {msg}{note}" + (" " + " ".join(bad) if bad else "")


def _env(tmp: Path) -> dict:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "OMP_NUM_THREADS": "1", "HOME": str(home), "MPLCONFIGDIR": str(home / "mpl"),
            "PYTHONPATH": str(ROOT / "src")}


def commands(inp: Path, out: Path, ref_dir: Path, est_dir: Path, metrics: str = "pesq_wb,estoi,si_sdr,sdr",
             enhance_in: Path | None = None) -> dict[str, list[str]]:
    """The command lines run on input ``inp`` (``enhance_in`` for enhance, a folder in the fault runs), writing
    under ``out``."""
    return {
        "enhance": CSPEC + ["enhance", str(enhance_in or inp), "-o", str(out / "enh")],
        "reconstruct": CSPEC + ["reconstruct", str(inp), "-o", str(out / "rec.wav"), "--iters", "16"],
        "plot": CSPEC + ["plot", str(inp), "-o", str(out / "fig.png")],
        "eval": CSPEC + ["eval", "--ref", str(ref_dir), "--est", str(est_dir), "--metrics", metrics,
                         "--csv", str(out / "scores.csv")],
    }


def inputs_table(tmp: Path, quick: bool) -> list[str]:
    corpus = make_corpus(tmp / "in", (6.0,) if quick else (6.0, 30.0))
    env = _env(tmp)
    head = "| input | what it is | " + " | ".join(commands(Path(), Path(), Path(), Path())) + " | input intact |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for kind, (path, what) in corpus.items():
        before = _digest(path)
        out = tmp / "out" / kind.replace(" ", "_")
        ref_dir, est_dir = out / "ref", out / "est"
        for d in (out, ref_dir, est_dir):
            d.mkdir(parents=True, exist_ok=True)
        long = "minutes" in kind
        sf.write(ref_dir / "x.wav", sf.read(path)[0] if long else voice(4.0), SR)
        (est_dir / "x.wav").symlink_to(path)
        cells = []
        for name, cmd in commands(path, out, ref_dir, est_dir).items():
            r = run(cmd, env, AS_USER)
            left = [p.name for p in out.rglob(".*") if p.is_file()]
            note = f" ({r['seconds']:.0f} s, {r['rss_mb']:.0f} MB)" if long else ""
            cells.append(cell(r, {str(path): "IN", str(out): "OUT", str(est_dir / 'x.wav'): "EST",
                                  str(ref_dir): "REF", str(est_dir): "EST"}, note)
                         + (f" **left {len(left)} temporary files**" if left else ""))
            print(f"{kind:>16} {name:>12}: {cells[-1][:150]}", flush=True)
        intact = "yes" if _digest(path) == before else "**changed**"
        lines.append(f"| {kind} | {what} | " + " | ".join(cells) + f" | {intact} |")
    return lines


def _mounted(opts: str, mnt: Path, cmd: list[str], env: dict) -> dict:
    script = f"mount -t tmpfs -o {opts} tmpfs {mnt} && exec \"$@\""
    return run(["unshare", "-rm", "sh", "-c", script, "sh", *cmd], env)


def faults_table(tmp: Path, quick: bool) -> list[str]:
    from reliability_corpus import noisy

    env = _env(tmp)
    src = tmp / "fault_in"
    src.mkdir()
    n_files = 4 if quick else 8
    for i in range(n_files):
        sf.write(src / f"f{i}.wav", noisy(30.0, seed=i), SR, subtype="FLOAT")
    one = src / "f0.wav"
    (tmp / "afile").write_text("a file")
    locked = tmp / "locked"
    locked.mkdir()
    _nobodys(locked, 0o555)

    def cmds(target: Path) -> dict[str, list[str]]:
        return {**commands(one, target, src, src, metrics="pesq_wb,si_sdr", enhance_in=src),
                "export": CSPEC + ["export", "tiny", "-o", str(target / "tiny.onnx")]}

    names = list(cmds(tmp))
    head = "| fault | " + " | ".join(names) + " |"
    lines = [head, "|" + "---|" * (len(names) + 1)]
    where = {str(tmp): "TMP"}

    def row(label: str, results: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(results) + " |")
        print(label, results, flush=True)

    row("output through a file", [cell(run(c, env, AS_USER), where) for c in cmds(tmp / "afile").values()])
    row("folder without write permission", [cell(run(c, env, AS_USER), where)
                                            for c in cmds(locked).values()])
    for label, opts in (("read-only file system", "ro,size=1m"), ("disk full (256 kB tmpfs)", "size=256k")):
        mnt = tmp / f"mnt{len(lines)}"
        mnt.mkdir()
        row(label, [cell(_mounted(opts, mnt, c, env), where) for c in cmds(mnt).values()])

    for sig, label in ((signal.SIGINT, "Ctrl-C (SIGINT) mid-run"), (signal.SIGTERM, "SIGTERM mid-run"),
                       (signal.SIGKILL, "SIGKILL mid-run, then the same command again")):
        results = []
        for name, _ in cmds(tmp).items():
            target = tmp / f"sig{int(sig)}_{name}"
            target.mkdir()
            cmd = cmds(target)[name]
            t0 = time.monotonic()
            r = run(cmd, env, signal_after=(sig, lambda: time.monotonic() - t0 > 6))
            left = [p for p in target.rglob(".*") if p.is_file()]
            text = f"{r['rc']}" + (f", stopped {r['stop']:.1f} s after the signal" if r["stop"] is not None else
                                   ", finished before the signal")
            text += f", {len(left)} temporary files left"
            if sig == signal.SIGKILL and r["stop"] is not None:
                again = run(cmd + (["--overwrite"] if name in ("enhance", "reconstruct", "plot", "export") else []),
                            env)
                still = [p for p in target.rglob(".*") if p.is_file()]
                text += f"; again: {again['rc']}, {len(still)} left"
            results.append(text + (" **traceback**" if "Traceback" in r["err"] else ""))
        row(label, results)
    return lines


def eval_table(tmp: Path) -> list[str]:
    env = _env(tmp)
    ref, est = tmp / "eref", tmp / "eest"
    ref.mkdir()
    est.mkdir()
    x = voice(6.5)
    cases = {"one_sample": (x, x[:1]), "ten_percent_short": (x, x[: int(len(x) * 0.9)]),
             "silent_estimate": (x, np.zeros_like(x)), "equal": (x, x), "ten_ms_short": (x, x[:-160])}
    for name, (r, e) in cases.items():
        sf.write(ref / f"{name}.wav", r, SR)
        sf.write(est / f"{name}.wav", e, SR)
    lines = ["| pair | estoi | si_sdr | sdr | reason |", "|---|---|---|---|---|"]
    for _ in range(2):
        r = run(CSPEC + ["eval", "--ref", str(ref), "--est", str(est), "--metrics", "estoi,si_sdr,sdr", "--csv",
                         str(tmp / "e.csv")], env)
        import csv

        with open(tmp / "e.csv") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            lines.append(f"| {row['file']} | {row.get('estoi')} | {row.get('si_sdr')} | {row.get('sdr')} | "
                         f"{row.get('reason', '').replace('|', '/')} |")
        (tmp / "e.csv").unlink()
    for p in est.iterdir():
        sf.write(p, np.zeros(len(x)), SR)
    r = run(CSPEC + ["eval", "--ref", str(ref), "--est", str(est), "--metrics", "si_sdr"], env)
    lines.append(f"\nNo file scorable (every estimate silent): exit {r['rc']}, "
                 f"`{_short(r['err'] or r['out'], {str(tmp): 'TMP'})}`")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="no 30-minute file, fewer files in the fault runs")
    ap.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cspec-reliability-", dir="/tmp"))
    os.chmod(tmp, 0o755)
    try:
        started = time.strftime("%Y-%m-%d")
        inputs = inputs_table(tmp, args.quick)
        faults = faults_table(tmp, args.quick)
        evals = eval_table(tmp)
    finally:
        clean(tmp)
    from _results import machine

    user = "root of a user namespace (`unshare -r`)" if AS_USER else "the current user"
    text = (Path(__file__).with_name("reliability_head.md").read_text().format(
        date=started, machine=machine(), user=user, command=" ".join(["benchmarks/reliability.py", *sys.argv[1:]]))
        + "\n## Unusual inputs\n\n" + "\n".join(inputs) + "\n\n## Faults\n\n" + "\n".join(faults)
        + "\n\n## Scores that would be wrong\n\n`cspec eval` on pairs of a 6.5 s reference and an estimate; run "
        "twice, so that a number that changes from run to run shows.\n\n" + "\n".join(evals) + "\n")
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
