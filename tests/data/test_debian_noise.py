"""recipes/pool/debian_noise.py: which files of a package are kept, and how sounds become ~20 s pieces."""

from __future__ import annotations

import numpy as np

from ..conftest import recipe_script

dn = recipe_script("debian_noise")


def test_files_keep_globs_and_drop_voices(tmp_path):
    for rel in ["usr/share/x/core/sounds/bow.ogg", "usr/share/x/core/sounds/human-die-1.ogg",
                "usr/share/x/core/sounds/ambient/birds1.ogg", "usr/share/x/core/music/theme.ogg",
                "usr/share/doc/x/copyright"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    keep, drop = dn.PACKAGES["wesnoth-1.16-data"][:2]
    names = [p.name for p in dn._files(tmp_path, keep, drop)]
    assert sorted(names) == ["birds1.ogg", "bow.ogg"]


def test_pieces_cut_long_sounds_and_join_short_ones():
    sr, n = dn.SR, int(dn.PIECE * dn.SR)
    rng = np.random.default_rng(0)
    long = np.ones(int(2.6 * n))  # 52 s: two whole pieces and a 12 s tail (kept: more than half a piece)
    short = [np.full(3 * sr, 2.0) for _ in range(8)]  # 8 x 3 s effects with 0.1-1 s gaps: one 20 s scene
    pieces = dn._pieces([long] + short, rng)
    assert [len(p) for p in pieces[:3]] == [n, n, int(0.6 * n)] and all((p == 1).all() for p in pieces[:3])
    scene = pieces[3]
    assert len(scene) == n and set(np.unique(scene)) == {0.0, 2.0}
    assert np.isclose((scene == 2).sum(), 6 * 3 * sr, atol=3 * sr)  # 6 or 7 effects fit, gaps between them
    assert len(pieces) == 5 and len(pieces[4]) >= sr  # the effects left over make a last, shorter scene


def test_opensfx_catalogue_is_split_into_wavs_with_their_licences(tmp_path):
    import io
    import struct

    import soundfile as sf
    names = [b"\"Wind\". By A. License: Creative Commons Attribution 3.0 Unported.\0",
             b"\"Cow\". By B. License: Creative Commons Zero 1.0.\0"]
    waves = []
    for k in range(2):
        buf = io.BytesIO()
        sf.write(buf, np.full(100 + 50 * k, 0.25 * (k + 1)), 44100, format="WAV", subtype="PCM_16")
        waves.append(buf.getvalue())
    body, table, off = b"", b"", 16  # two 8-byte table entries: offset | 0x80000000, size of the WAV
    for name, wav in zip(names, waves):
        table += struct.pack("<II", (off + len(body)) | 0x80000000, len(wav))
        body += bytes([len(name)]) + name + wav
    (tmp_path / "opensfx.cat").write_bytes(table + body)
    credits = dn.split_cat(tmp_path / "opensfx.cat", tmp_path / "out")
    assert sorted(credits) == ["00.wav", "01.wav"]
    for k, f in enumerate(sorted(credits)):
        x, sr = sf.read(tmp_path / "out" / f)
        assert sr == 44100 and len(x) == 100 + 50 * k and np.allclose(x, 0.25 * (k + 1), atol=1e-4)
    assert [dn.licence_of(credits[f], "GPL") for f in sorted(credits)] == ["CC-BY-3.0", "CC0-1.0"]
    assert dn.licence_of("no licence named", "GPL-2+ (x)") == "GPL-2+ (x)"


def test_held_out_sounds_are_a_fixed_fifth_of_each_new_package():
    names = [f"sound/world/s{i}.wav" for i in range(40)]
    seconds = [1.0 + (i % 7) for i in range(40)]
    held = dn.held_out("openarena-data", names, seconds)
    assert held == dn.held_out("openarena-data", names[::-1], seconds[::-1])  # not the order of the files
    share = sum(s for n, s in zip(names, seconds) if n in held) / sum(seconds)
    assert 0.20 <= share < 0.20 + max(seconds) / sum(seconds)  # the budget, passed by the last sound at most
    assert held != dn.held_out("openttd-opensfx", names, seconds)  # each package its own choice
    assert dn.held_out("wesnoth-1.16-data", names, seconds) == set()  # first-generation sounds all train


def test_loops_stay_one_file_each_and_pieces_know_their_sounds():
    rng = np.random.default_rng(0)
    sounds = [np.ones(dn.SR // 2), np.ones(3 * dn.SR), np.ones(int(52 * dn.SR))]  # 52 s: 20 + 20 + a 12 s tail
    pieces, members = dn._pieces(sounds, rng, loops=True, labels=["fan", "hum", "wind"])
    assert [len(p) for p in pieces] == [dn.SR // 2, 3 * dn.SR, 20 * dn.SR, 20 * dn.SR, 12 * dn.SR]
    assert members == [["fan"], ["hum"], ["wind"], ["wind"], ["wind"]]
    _, scenes = dn._pieces([np.ones(3 * dn.SR)] * 8, rng, labels=list("abcdefgh"))
    assert sum(scenes, []) == list("abcdefgh") and len(scenes[0]) >= 6  # scenes list every effect they join
