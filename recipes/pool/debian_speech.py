"""Build an extra clean-speech pool from the Asterisk voice prompts that Debian packages ship.

Most clean speech in the shared data is a word, a letter or a digit; only ~50 files are sentences. The Asterisk
PBX sound sets are studio recordings of spoken phrases and sentences ("the party you are calling is not
available", "please enter your account number followed by the pound key") by four professional speakers, in
five languages, shipped in 16 kHz wide-band G.722: Allison Smith (US English and Mexican Spanish), June Wallack
(Canadian French), Carlo (Italian, male) and IvrvoiceRU (Russian). This script downloads the ``-g722`` packages
with ``apt-get download`` (no root needed, nothing is installed), decodes them with the ``G722`` package
(``pip install G722``), leaves out the tones, beeps, silences and the single letters/digits/phonetic-alphabet
folders, trims leading and trailing silence and writes 16 kHz mono FLAC with a ``manifest.csv`` in the shared
data's format (kind ``clean prompts``, one speaker id per voice), so that
``SimulatedDataset(speech_manifests=[OUT])`` adds them to the speech pool. Licences: CC-BY-SA-3.0 (Allison
Smith, June Wallack, Carlo) and CC-BY-3.0 (IvrvoiceRU); the packages' copyright files are copied under
``OUT/licenses/``.

    pip install G722
    python recipes/pool/debian_speech.py --out ~/.cache/cspec/debian-speech
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debian_pool import SR, FetchError, add_file, copy_licence, fetch, write_pool_manifest  # noqa: E402

#: package -> (licence, speaker id); Allison Smith recorded both the English and the Spanish set
PACKAGES = {
    "asterisk-core-sounds-en-g722": ("CC-BY-SA-3.0 (Allison Smith, asterisk-core-sounds)", "asterisk-allison"),
    "asterisk-core-sounds-es-g722": ("CC-BY-SA-3.0 (Allison Smith, asterisk-core-sounds)", "asterisk-allison"),
    "asterisk-core-sounds-fr-g722": ("CC-BY-SA-3.0 (June Wallack, asterisk-core-sounds)", "asterisk-june"),
    "asterisk-core-sounds-it-g722": ("CC-BY-SA-3.0 (Carlo, asterisk-core-sounds)", "asterisk-carlo"),
    "asterisk-core-sounds-ru-g722": ("CC-BY-3.0 (IvrvoiceRU, asterisk-core-sounds)", "asterisk-ivrvoiceru"),
}
#: folders of single letters, digits and phonetic-alphabet words (the shared pool has plenty), and silences
DROP_DIRS = {"letters", "digits", "phonetic", "silence"}
DROP_NAMES = ["*2tone*", "beep*"]
MIN_SECONDS, TRIM_DB = 0.5, -45.0


def _files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*.g722"))
            if not DROP_DIRS & set(p.parent.relative_to(root).parts)
            and not any(fnmatch.fnmatch(p.name, d) for d in DROP_NAMES)]


def _codec():
    try:
        import G722
    except ImportError:
        raise SystemExit("error: decoding the prompts needs the G722 package: pip install G722") from None
    return G722


def decode(data: bytes) -> np.ndarray:
    """64 kbit/s G.722 bytes -> float64 samples at 16 kHz in [-1, 1)."""
    return np.asarray(_codec().G722(SR, 64000).decode(data), dtype=np.float64) / 32768.0


def trim(x: np.ndarray, frame: int = 320, rel_db: float = TRIM_DB) -> np.ndarray:
    """``x`` without its leading and trailing 20 ms frames quieter than ``rel_db`` below its loudest frame
    (one quiet frame kept at each end)."""
    n = len(x) // frame
    if n == 0:
        return x
    e = 10 * np.log10((x[:n * frame].reshape(n, frame) ** 2).mean(1) + 1e-12)
    loud = np.flatnonzero(e > e.max() + rel_db)
    first, last = max(loud[0] - 1, 0), min(loud[-1] + 2, n)
    return x[first * frame:last * frame]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder for the FLAC files and manifest.csv")
    args = ap.parse_args(argv)
    out = args.out.expanduser()
    _codec()  # fail early, before any download, when G722 is missing
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for pkg, (lic, speaker) in PACKAGES.items():
            try:
                root = fetch(pkg, Path(tmp))
            except FetchError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            lang = pkg.split("-")[3]
            kept = 0
            for f in _files(root):
                x = trim(decode(f.read_bytes()))
                if len(x) < MIN_SECONDS * SR or np.abs(x).max() < 1e-3:
                    continue
                rel = f"speech/{lang}/{f.relative_to(root).parent.name}/{f.stem}.flac"
                add_file(out, rel, x, rows, "clean prompts", speaker, pkg, lic)
                kept += 1
            copy_licence(root, out, pkg)
            print(f"{pkg}: {kept} prompts", flush=True)
    return write_pool_manifest(out, rows)


if __name__ == "__main__":
    sys.exit(main())
