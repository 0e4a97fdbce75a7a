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

Second generation (issue #21): recorded loops and transport sounds of packages the first pool did not use --
``openarena-data`` (sound/world loops: fans, machinery drones, hums, electricity, wind, fire, water, lava,
from the game's .pk3 archives), ``openttd-opensfx`` (trains, buses, trucks, ships, aircraft, level crossings,
mining and sawmill machinery, wind, animals; each sound's own licence, CC-BY-3.0, CC-BY-SA-3.0 or CC0-1.0, read
from the sound's name in ``opensfx.cat``), ``scorched3d-data`` (birds, frogs, rain, ocean waves, thunder, jets,
a helicopter, tank engines and explosions) and ``trigger-rally-data`` (a car engine, gravel and wind). Loops
(``LOOPS``) stay one file each, so that the pool repeats them seamlessly, never with gaps. ``OUT/credits.csv``
lists every source sound of every piece with its licence and credit line (CC-BY asks for attribution).

Held out: in each new package, source sounds taken in the order of the CRC-32 of ``package:path`` until they last
``HELD_OUT_PERCENT`` % (20 %) of the package's duration (:func:`held_out`) are made into pieces of their own,
under ``noise/<package>-heldout/``, with ``split`` ``test`` in the manifest; every other row has ``split`` ``train``. ``cspec.data.SimulatedDataset`` never draws ``test``
noise rows for training or validation; ``recipes/read/dev_sentences.py`` draws only them. The first-generation
packages (used by earlier runs) are all ``train`` and come out as before (the same pieces, same seed).

    python recipes/pool/debian_noise.py --out ~/.cache/cspec/debian-noise-v2          # every package
    python recipes/pool/debian_noise.py --out ~/.cache/cspec/debian-noise-new --only new  # the new ones alone
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import io
import re
import struct
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debian_pool import HEADER, SR, FetchError, add_file, copy_licence, fetch  # noqa: E402

from cspec.audio import AudioError, load  # noqa: E402
from cspec.models.io import atomic_write_text  # noqa: E402

PIECE, FLOOR = 20.0, 1e-4
SCENES, MUSIC, LOOPS = False, True, "loops"
HELD_OUT_PERCENT = 20

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
#: second generation: package -> (globs, left out, licence, SCENES or LOOPS); these hold out HELD_OUT_PERCENT %
NEW_PACKAGES = {
    "openarena-data": (["*/pk3/sound/world/*.wav"],  # ambient/ and new/ too; its monsters' moans left out
                       ["1shot_greg*", "growl*", "moan*", "jumppad*", "portal*", "suck*", "tele*", "clack*"],
                       "GPL-2+ (openarena)", LOOPS),
    "openttd-opensfx": (["*/opensfx/*.wav"], ["00.wav", "01.wav", "30.wav", "34.wav", "50.wav"],
                        "CC-BY-SA-3.0 (OpenSFX collection)", SCENES),
    "scorched3d-data": ([f"*/globalmods/none/data/wav/{d}/*.wav" for d in ("misc", "movement", "explosions")],
                        ["beep*", "camera*", "laserdeath*", "play*", "teleport*", "text*"],
                        "GPL-2+ (scorched3d)", SCENES),
    "trigger-rally-data": (["*/zip/sounds/engine.wav", "*/zip/sounds/gravel.wav", "*/zip/sounds/wind.wav"], [],
                           "GPL-2+ (trigger-rally)", LOOPS),
}
PACKAGES.update(NEW_PACKAGES)
MAX_MUSIC_PIECES = 8
_LICENCES = {"Creative Commons Attribution 3.0": "CC-BY-3.0", "Creative Commons Attribution-ShareAlike 3.0":
             "CC-BY-SA-3.0", "Creative Commons Zero 1.0": "CC0-1.0"}


def _unzip(archives: list[Path], dest: Path) -> None:
    """The .wav members of zip archives (OpenArena's .pk3 files are zip archives) under ``dest``."""
    for arc in archives:
        with zipfile.ZipFile(arc) as z:
            for name in z.namelist():
                if name.lower().endswith(".wav") and ".." not in name:
                    (dest / name).parent.mkdir(parents=True, exist_ok=True)
                    (dest / name).write_bytes(z.read(name))


def split_cat(cat: Path, dest: Path) -> dict[str, str]:
    """OpenTTD's ``opensfx.cat`` (a table of ``uint32 offset | flag, uint32 size`` entries; at each offset a
    length-prefixed name, then a RIFF WAV of ``size`` bytes) as ``dest/NN.wav`` files; returns ``{file name:
    the entry's name text}`` (the text names the sound, its authors and its licence)."""
    data = cat.read_bytes()
    count = (struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF) // 8
    dest.mkdir(parents=True, exist_ok=True)
    names = {}
    for i in range(count):
        off, size = struct.unpack_from("<II", data, 8 * i)
        off &= 0x7FFFFFFF
        n = data[off]
        names[f"{i:02d}.wav"] = data[off + 1:off + 1 + n].rstrip(b"\0").decode("latin-1")
        (dest / f"{i:02d}.wav").write_bytes(data[off + 1 + n:off + 1 + n + size])
    return names


def unpack(pkg: str, root: Path) -> dict[str, str]:
    """Open the archives a package keeps its sounds in; ``{file name: credit text}`` where a package gives one."""
    if pkg == "openarena-data":
        _unzip(sorted(root.rglob("*.pk3")), root / "pk3")
    elif pkg == "trigger-rally-data":
        _unzip(sorted(root.rglob("data.zip")), root / "zip")
    elif pkg == "openttd-opensfx":
        return split_cat(next(root.rglob("opensfx.cat")), root / "opensfx")
    return {}


def licence_of(credit: str, default: str) -> str:
    """The licence a credit text names (OpenSFX's 'License: Creative Commons ...'), else ``default``."""
    for text, spdx in _LICENCES.items():
        if f"License: {text}" in credit:
            return spdx
    return default


def held_out(pkg: str, names: list[str], seconds: list[float]) -> set[str]:
    """The sounds of a second-generation package held out for dev sets: in the order of the CRC-32 of
    ``package:name``, sounds are taken until they last ``HELD_OUT_PERCENT`` % of the package's duration (the last
    one may pass it). A fixed choice that does not depend on the machine, the seed or the other packages."""
    if pkg not in NEW_PACKAGES:
        return set()
    budget, held, total = HELD_OUT_PERCENT / 100 * sum(seconds), set(), 0.0
    for i in sorted(range(len(names)), key=lambda i: zlib.crc32(f"{pkg}:{names[i]}".encode())):
        if total >= budget:
            break
        held.add(names[i])
        total += seconds[i]
    return held


def _files(root: Path, keep: list[str], drop: list[str]) -> list[Path]:
    out = []
    for p in sorted(root.rglob("*")):
        rel = "/" + p.relative_to(root).as_posix()
        if p.is_file() and any(fnmatch.fnmatch(rel, "*" + g.lstrip("*")) for g in keep) \
                and not any(fnmatch.fnmatch(p.name, d) for d in drop):
            out.append(p)
    return out


def _pieces(sounds: list[np.ndarray], rng: np.random.Generator, loops: bool = False,
            labels: list | None = None):
    """Long sounds cut into PIECE-second pieces; short ones joined into scenes of about PIECE seconds (with
    ``loops``, kept one file each). With ``labels`` (one per sound) also each piece's list of labels."""
    n, out, members, scene, filled, inside = int(PIECE * SR), [], [], [], 0, []
    given = labels is not None
    labels = labels if given else [None] * len(sounds)
    for x, label in zip(sounds, labels):
        if len(x) >= n or loops:
            cuts = [x[i:i + n] for i in range(0, max(1, len(x) - n // 2), n)]
            out += cuts
            members += [[label]] * len(cuts)
            continue
        scene += [x, np.zeros(int(rng.uniform(0.1, 1.0) * SR))]
        inside.append(label)
        filled += len(scene[-2]) + len(scene[-1])
        if filled >= n:
            out.append(np.concatenate(scene)[:n])
            members.append(inside)
            scene, filled, inside = [], 0, []
    if scene and filled >= SR:
        out.append(np.concatenate(scene))
        members.append(inside)
    return (out, members) if given else out


def write_manifest(out: Path, rows: list[list], credits: list[list]) -> int:
    """``out/manifest.csv`` (the pool columns and ``split``) and ``out/credits.csv``, atomically; a summary."""
    for name, header, table in (("manifest.csv", HEADER + ["split"], rows),
                                ("credits.csv", ["path", "package", "sound", "license", "credit"], credits)):
        text = io.StringIO()
        csv.writer(text).writerows([header, *table])
        atomic_write_text(out / name, text.getvalue())
    for split in ("train", "test"):
        mine = [r for r in rows if r[-1] == split]
        print(f"{split}: {len(mine)} files, {sum(float(r[1]) for r in mine) / 60:.1f} min")
    print(f"-> {out / 'manifest.csv'}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder for the FLAC files and manifest.csv")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--without", default="", help="comma-separated PACKAGES keys to leave out")
    ap.add_argument("--only", default="", help="comma-separated PACKAGES keys to build alone ('new': the second "
                    "generation, NEW_PACKAGES)")
    args = ap.parse_args(argv)
    without = {k for k in args.without.split(",") if k}
    only = {k for k in args.only.split(",") if k}
    only = (only - {"new"}) | (set(NEW_PACKAGES) if "new" in only else set())
    if (without | only) - set(PACKAGES):
        print(f"error: --without/--only: unknown {sorted((without | only) - set(PACKAGES))}; known: "
              f"{', '.join(PACKAGES)}", file=sys.stderr)
        return 2
    if only:
        without |= set(PACKAGES) - only
    out = args.out.expanduser()
    rng = np.random.default_rng(args.seed)
    rows, credits, seen = [], [], set()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for key, (keep, drop, lic, mode) in PACKAGES.items():
            if key in without:
                continue
            pkg = key.split("#")[0]
            try:
                root = fetch(pkg, tmp)
                names = unpack(pkg, root)
            except (FetchError, OSError, zipfile.BadZipFile, struct.error, StopIteration) as exc:
                print(f"error: {pkg}: {exc}", file=sys.stderr)
                return 1
            sounds, labels = [], []
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
                    credit = names.get(f.name, "")
                    labels.append((f.relative_to(root).as_posix(), licence_of(credit, lic), credit))
            held = held_out(pkg, [lab[0] for lab in labels], [len(x) / SR for x in sounds])
            for split in ("train", "test"):
                group = [i for i, lab in enumerate(labels) if (lab[0] in held) == (split == "test")]
                if split == "test" and not group:
                    continue
                order = rng.permutation(len(group))
                pieces, members = _pieces([sounds[group[i]] for i in order], rng, mode == LOOPS,
                                          [labels[group[i]] for i in order])
                if mode is MUSIC:
                    keep_idx = sorted(rng.permutation(len(pieces))[:MAX_MUSIC_PIECES])
                    pieces, members = [pieces[i] for i in keep_idx], [members[i] for i in keep_idx]
                name = re.sub(r"[^a-z0-9]+", "-", key.lower()) + ("-heldout" if split == "test" else "")
                (out / "noise" / name).mkdir(parents=True, exist_ok=True)
                for i, (x, inside) in enumerate(zip(pieces, members)):
                    rel = f"noise/{name}/{i:03d}.flac"
                    x = 0.5 * x / max(np.abs(x).max(), 1e-9)
                    # a floor at -80 dBFS (3 LSB) where the effects have digital silence: recordings never do, and
                    # an all-zero noisy frame over a silent speech gap makes the compressed losses' gradients infinite
                    x = x + FLOOR * rng.standard_normal(len(x))
                    piece_lic = " + ".join(sorted({m[1] for m in inside}))
                    piece_lic = piece_lic if piece_lic == lic else f"{piece_lic} ({pkg})"
                    add_file(out, rel, x, rows, "noise debian" + (" music" if mode is MUSIC else ""), "", pkg,
                             piece_lic)
                    rows[-1].append(split)
                    credits += [[rel, pkg, m[0], m[1], m[2]] for m in inside]
                print(f"{key} ({split}): {len(group)} sounds -> {len(pieces)} pieces", flush=True)
            copy_licence(root, out, pkg)
    return write_manifest(out, rows, credits)


if __name__ == "__main__":
    sys.exit(main())
