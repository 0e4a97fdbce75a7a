"""Build an extra noise pool from sound files that Debian packages ship, for recipes/pool/*-deb.yaml.

The shared data has 7.5 min of recorded noise (34 files). Debian's archive, which these machines can reach,
carries game and desktop sound sets with real recordings of city and nature ambience (birds, rain, wind, night
insects, farm animals), machines, tools, footsteps, fire, water, bells, phone rings and instrumental music. This script downloads a fixed list of packages with
``apt-get download`` (no root needed, nothing is installed), keeps their non-speech sounds, and writes them
as 16 kHz mono FLAC with a ``manifest.csv`` in the shared data's format (kind ``noise debian``), so that
``SimulatedDataset(noise_manifests=[OUT])`` adds them to the noise pool.

A floor of white noise at -80 dBFS fills digital silence. Short effects are joined, in a seeded random order with 0.1-1 s of silence between them, into ~20 s scenes;
long recordings and music are cut into 20 s pieces (music capped at 8 pieces per package), so that the pool's uniform
draw over files is roughly a draw over seconds. Sounds of voices (the game units' cries, spoken channel
names, chat notifications) are left out, and so are files repeated byte for byte. Each row's licence names the package; its copyright file is
copied under ``OUT/licenses/``.

    python recipes/pool/debian_noise.py --out ~/.cache/cspec/debian-noise
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debian_pool import SR, FetchError, add_file, copy_licence, fetch, write_pool_manifest  # noqa: E402

from cspec.audio import AudioError, load  # noqa: E402

PIECE, FLOOR = 20.0, 1e-4

#: package -> (globs of the files kept, name patterns left out, licence, music?)
PACKAGES = {
    "lincity-ng-data": (["*/sounds/*.wav"], ["Click*", "Window*"], "GPL-2+ (lincity-ng)", False),
    "wesnoth-1.16-data": (["*/core/sounds/*.ogg", "*/core/sounds/ambient/*.ogg"],
                          ["human-*", "elf-*", "dwarf-*", "orc-*", "goblin-*", "naga-*", "mer*-*", "lich-*",
                           "troll-*", "ogre-*", "yeti-*", "wose-*", "zombie-*", "chat-*", "gamestart*"],
                          "GPL-2+ (wesnoth)", False),
    "colobot-common-sounds": (["*/sounds/*.wav"], [], "GPL-3+ (colobot)", False),
    "minetest-data": (["*.ogg"], ["player_damage*"], "CC-BY-SA-3.0 (minetest_game)", False),
    "sound-theme-freedesktop": (["*.oga"], ["audio-channel-*", "service-log*"], "GPL-2+ (freedesktop sounds)",
                                False),
    "megaglest-data": (["*/tilesets/*/sounds/*", "*/core/water_sounds/*.wav"]
                       + [f"*/commondata/sounds/{k}*" for k in (
                           "anvil", "arrow_hit", "catapult", "tech_building_fall", "tower", "defense_tower",
                           "worker_build", "worker_harvest", "worker_mine", "technician_build", "air_hit",
                           "dragon_hit", "eagle_hit", "orni", "cow", "pig")],
                       ["good_morning*"], "CC-BY-SA-3.0 (megaglest)", False),
    "extremetuxracer-data": (["*/etr/sounds/*.wav"], [], "GPL-2+ (extremetuxracer)", False),
    "tuxpaint-data": (["*/tuxpaint/sounds/*.wav"], ["areyousure*", "giggle*", "prompt*", "tuxok*", "youcannot*"],
                      "GPL-2+ (tuxpaint)", False),
    "asterisk-moh-opsound-wav": (["*.wav"], [], "CC-BY-SA-3.0 (opsound.org)", True),
    "colobot-common-sounds#music": (["*/music/*.ogg"], [], "GPL-3+ (colobot)", True),
}
MAX_MUSIC_PIECES = 8


def _files(root: Path, keep: list[str], drop: list[str]) -> list[Path]:
    out = []
    for p in sorted(root.rglob("*")):
        rel = "/" + p.relative_to(root).as_posix()
        if p.is_file() and any(fnmatch.fnmatch(rel, "*" + g.lstrip("*")) for g in keep) \
                and not any(fnmatch.fnmatch(p.name, d) for d in drop):
            out.append(p)
    return out


def _pieces(sounds: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Long sounds cut into PIECE-second pieces; short ones joined into scenes of about PIECE seconds."""
    n, out, scene, filled = int(PIECE * SR), [], [], 0
    for x in sounds:
        if len(x) >= n:
            out += [x[i:i + n] for i in range(0, len(x) - n // 2, n)]
            continue
        scene += [x, np.zeros(int(rng.uniform(0.1, 1.0) * SR))]
        filled += len(scene[-2]) + len(scene[-1])
        if filled >= n:
            out.append(np.concatenate(scene)[:n])
            scene, filled = [], 0
    if scene and filled >= SR:
        out.append(np.concatenate(scene))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder for the FLAC files and manifest.csv")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--without", default="", help="comma-separated PACKAGES keys to leave out")
    args = ap.parse_args(argv)
    without = {k for k in args.without.split(",") if k}
    if without - set(PACKAGES):
        print(f"error: --without: unknown {sorted(without - set(PACKAGES))}; known: {', '.join(PACKAGES)}",
              file=sys.stderr)
        return 2
    out = args.out.expanduser()
    rng = np.random.default_rng(args.seed)
    rows, seen = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for key, (keep, drop, lic, music) in PACKAGES.items():
            if key in without:
                continue
            pkg = key.split("#")[0]
            try:
                root = fetch(pkg, tmp)
            except FetchError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            sounds = []
            for f in _files(root, keep, drop):
                digest = hashlib.sha1(f.read_bytes()).hexdigest()
                if digest in seen:
                    continue
                seen.add(digest)
                try:
                    x = load(f, sr=SR, mono=True)[0][0].double().numpy()
                except AudioError as exc:
                    print(f"skipped {f.name}: {exc}", file=sys.stderr)
                    continue
                if len(x) > SR // 20 and np.abs(x).max() > 1e-4:
                    sounds.append(x)
            order = rng.permutation(len(sounds))
            pieces = _pieces([sounds[i] for i in order], rng)
            if music:
                pieces = [pieces[i] for i in sorted(rng.permutation(len(pieces))[:MAX_MUSIC_PIECES])]
            name = re.sub(r"[^a-z0-9]+", "-", key.lower())
            (out / "noise" / name).mkdir(parents=True, exist_ok=True)
            for i, x in enumerate(pieces):
                rel = f"noise/{name}/{i:03d}.flac"
                x = 0.5 * x / max(np.abs(x).max(), 1e-9)
                # a floor at -80 dBFS (3 LSB) where the effects have digital silence: recordings never do, and an
                # all-zero noisy frame over a silent speech gap makes the compressed losses' gradients infinite
                x = x + FLOOR * rng.standard_normal(len(x))
                add_file(out, rel, x, rows, "noise debian" + (" music" if music else ""), "", pkg, lic)
            copy_licence(root, out, pkg)
            print(f"{key}: {len(sounds)} sounds -> {len(pieces)} pieces", flush=True)
    return write_pool_manifest(out, rows)


if __name__ == "__main__":
    sys.exit(main())
