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
