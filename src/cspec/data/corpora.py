"""Readers of the usual speech enhancement and separation corpora: each returns a list of :class:`Example`.

The readers only look at folder and file names (and LibriMix's metadata CSV); no audio is opened, so that a
corpus of 100 000 files is listed in a second. The audio is read later by :class:`cspec.data.PairedDataset`
through :func:`cspec.audio.load`. A missing folder, an unknown split or files without a partner raise
:class:`cspec.errors.DataError` naming the folder and the first few unmatched files.

Layouts (as distributed by their authors):

* VoiceBank+DEMAND (Valentini-Botinhao et al., 2016, "Investigating RNN-based speech enhancement methods for
  noise-robust text-to-speech", SSW9): ``{clean,noisy}_{trainset_28spk,trainset_56spk,testset}_wav/pNNN_MMM.wav``.
* DNS Challenge (Reddy et al., 2020, "The INTERSPEECH 2020 Deep Noise Suppression Challenge"): the training
  synthesizer's ``{clean,noisy,noise}/`` folders paired by the ``fileid_N`` suffix, and the test set's
  ``test_set/synthetic/{no_reverb,with_reverb}/{clean,noisy}/``.
* LibriMix (Cosentino et al., 2020, "LibriMix: An Open-Source Dataset for Generalizable Speech Separation"):
  ``Libri{2,3}Mix/wav{8k,16k}/{min,max}/<split>/{mix_clean,mix_both,mix_single,s1,s2,s3,noise}/`` and
  ``metadata/mixture_<split>_<type>.csv``.
* WSJ0-2mix / 3mix (Hershey et al., 2016, "Deep clustering: discriminative embeddings for segmentation and
  separation", ICASSP): ``wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix,s1,s2[,s3]}/``.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cspec.errors import DataError

__all__ = ["Example", "AUDIO_SUFFIXES", "voicebank_demand", "dns_challenge", "librimix", "wsj0mix",
           "paired_folders", "list_audio", "pair_by_key"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus")
_SHOW = 5  # unmatched names listed in an error message


@dataclass(frozen=True)
class Example:
    """One item of a corpus: the mixture (noisy) file, its target file(s), and what is known about it."""

    name: str
    mixture: Path
    targets: tuple[Path, ...]
    noise: Path | None = None
    speakers: tuple[str, ...] = ()
    split: str = ""

    @property
    def noisy(self) -> Path:
        """Alias of :attr:`mixture` for enhancement corpora."""
        return self.mixture

    @property
    def clean(self) -> Path:
        """The first target (the clean speech of an enhancement corpus)."""
        return self.targets[0]


def list_audio(folder: str | os.PathLike, what: str = "folder") -> list[Path]:
    """Audio files directly inside ``folder``, sorted; :class:`DataError` if it is missing or holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such {what}; check the corpus root and the split/layout options")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{folder}: the {what} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    return files


def pair_by_key(groups: dict[str, list[Path]], key=lambda p: p.stem) -> list[dict[str, Path]]:
    """Match the files of several folders by ``key(path)``; every key must be present in every folder.

    ``groups`` maps a role (``"noisy"``, ``"clean"`` ...) to its files. Returns one ``{role: path}`` per key,
    sorted by key; a key missing from some folder raises :class:`DataError` listing the first few.
    """
    keyed: dict[str, dict[str, Path]] = {}
    for role, files in groups.items():
        table: dict[str, Path] = {}
        for p in files:
            k = key(p)
            if k is None:
                continue
            if k in table:
                raise DataError(f"{p.parent}: two files share the key '{k}' ({table[k].name}, {p.name}); "
                                "keep one of them")
            table[k] = p
        keyed[role] = table
    roles = list(groups)
    every = set().union(*(set(t) for t in keyed.values()))
    for role in roles:
        missing = sorted(every - set(keyed[role]))
        if missing:
            folder = next(iter(keyed[role].values())).parent if keyed[role] else role
            others = [r for r in roles if r != role]
            raise DataError(
                f"{len(missing)} file(s) of {'/'.join(others)} have no partner in {folder}: "
                f"{', '.join(missing[:_SHOW])}{' ...' if len(missing) > _SHOW else ''}; "
                "make both folders hold the same names or remove the extra files")
    return [{role: keyed[role][k] for role in roles} for k in sorted(every, key=_natural)]


def _natural(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def paired_folders(noisy_dir: str | os.PathLike, clean_dir: str | os.PathLike, split: str = "") -> list[Example]:
    """Pair the files of ``noisy_dir`` and ``clean_dir`` by file name (the extension may differ)."""
    pairs = pair_by_key({"noisy": list_audio(noisy_dir, "noisy folder"),
                         "clean": list_audio(clean_dir, "clean folder")})
    return [Example(p["noisy"].stem, p["noisy"], (p["clean"],), split=split) for p in pairs]


def _find_dir(root: Path, name: str) -> Path:
    """``root/name``, or the one ``root/name*`` folder (resampled copies such as ``clean_testset_wav_16k``)."""
    if (root / name).is_dir():
        return root / name
    found = sorted(p for p in root.glob(f"{name}*") if p.is_dir())
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise DataError(f"{root}: several folders match {name}* ({', '.join(p.name for p in found)}); "
                        "pass the one you want with paired_folders(noisy_dir, clean_dir)")
    raise DataError(f"{root}: no folder {name}/; is this the corpus root?")


def voicebank_demand(root: str | os.PathLike, split: str = "train", speakers: int = 28,
                     valid_speakers: tuple[str, ...] = ()) -> list[Example]:
    """VoiceBank+DEMAND pairs of ``split`` (``train``, ``valid`` or ``test``).

    ``speakers`` picks the 28- or 56-speaker training set. ``valid_speakers`` (for example ``("p226", "p287")``)
    are held out of ``train`` and make up ``valid``. The speaker id is the ``pNNN`` prefix of the file name.
    """
    root = Path(root)
    if split not in ("train", "valid", "test"):
        raise DataError(f"unknown VoiceBank+DEMAND split '{split}'; use train, valid or test")
    if speakers not in (28, 56):
        raise DataError(f"VoiceBank+DEMAND has 28- and 56-speaker training sets, not {speakers}")
    if split == "valid" and not valid_speakers:
        raise DataError("split='valid' needs valid_speakers, e.g. ('p226', 'p287'), held out of the train set")
    part = "testset" if split == "test" else f"trainset_{speakers}spk"
    noisy, clean = _find_dir(root, f"noisy_{part}_wav"), _find_dir(root, f"clean_{part}_wav")
    out = []
    for ex in paired_folders(noisy, clean, split=split):
        spk = ex.name.split("_")[0]
        if split != "test" and valid_speakers and ((spk in valid_speakers) != (split == "valid")):
            continue
        out.append(Example(ex.name, ex.mixture, ex.targets, speakers=(spk,), split=split))
    if not out:
        raise DataError(f"{root}: no VoiceBank+DEMAND pairs for split '{split}' (valid_speakers={valid_speakers})")
    return out


_FILEID = re.compile(r"fileid_(\d+)$")


def _fileid(p: Path) -> str | None:
    m = _FILEID.search(p.stem)
    return m.group(1) if m else None


def dns_challenge(root: str | os.PathLike, subset: str = "train") -> list[Example]:
    """DNS Challenge pairs: ``subset="train"`` reads the synthesizer's ``clean/ noisy/ [noise/]`` under ``root``;
    ``"no_reverb"`` / ``"with_reverb"`` read the synthetic test set under ``root`` (the folder holding
    ``test_set/``, ``synthetic/`` or the subset itself). Files are paired by their ``fileid_N`` suffix; files
    without one are ignored."""
    root = Path(root)
    if subset == "train":
        base = root
    elif subset in ("no_reverb", "with_reverb"):
        cands = [root / "test_set" / "synthetic" / subset, root / "synthetic" / subset, root / subset]
        base = next((c for c in cands if c.is_dir()), cands[0])
    else:
        raise DataError(f"unknown DNS subset '{subset}'; use train, no_reverb or with_reverb")
    groups = {"noisy": list_audio(base / "noisy", "DNS noisy folder"),
              "clean": list_audio(base / "clean", "DNS clean folder")}
    if subset == "train" and (base / "noise").is_dir():
        groups["noise"] = list_audio(base / "noise", "DNS noise folder")
    if not any(_fileid(p) for p in groups["noisy"]):
        raise DataError(f"{base / 'noisy'}: no file name ends in fileid_N; is this a DNS Challenge folder?")
    return [Example(f"fileid_{_fileid(p['noisy'])}", p["noisy"], (p["clean"],), p.get("noise"), split=subset)
            for p in pair_by_key(groups, key=_fileid)]


_MIX_DIRS = {"clean": "mix_clean", "both": "mix_both", "single": "mix_single"}


def _rate_dir(sample_rate: int | str) -> str:
    text = str(sample_rate).lower().rstrip("hz")
    table = {"8000": "8k", "8k": "8k", "16000": "16k", "16k": "16k"}
    if text not in table:
        raise DataError(f"sample_rate {sample_rate!r}: these corpora come at 8000 or 16000 Hz")
    return f"wav{table[text]}"


def librimix(root: str | os.PathLike, n_src: int = 2, sample_rate: int | str = 16000, mode: str = "min",
             split: str = "train-100", mix_type: str = "both") -> list[Example]:
    """LibriMix mixtures of ``split`` (``train-100``, ``train-360``, ``dev``, ``test``).

    ``mix_type``: ``clean`` (targets s1..sN), ``both`` (s1..sN plus noise) or ``single`` (s1 plus noise).
    ``root`` holds ``Libri{n_src}Mix/`` or is that folder. The metadata CSV ``mixture_<split>_mix_<type>.csv``
    is used when found (in ``<mode>/metadata/`` or ``<root>/metadata/``); its absolute paths are re-rooted at
    the corpus when they do not exist on this machine. Without a CSV the folders are paired by file name.
    """
    root = Path(root)
    if n_src not in (2, 3) or mode not in ("min", "max") or mix_type not in _MIX_DIRS:
        raise DataError(f"LibriMix: n_src must be 2 or 3 (got {n_src}), mode min or max (got {mode!r}), "
                        f"mix_type clean, both or single (got {mix_type!r})")
    name = f"Libri{n_src}Mix"
    corpus = root if root.name == name else root / name
    mode_dir = corpus / _rate_dir(sample_rate) / mode
    split_dir = mode_dir / split
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: no such folder; check root, n_src, sample_rate, mode and split "
                        "(train-100, train-360, dev, test)")
    n_tgt = 1 if mix_type == "single" else n_src
    noisy = mix_type != "clean"
    csv_name = f"mixture_{split}_{_MIX_DIRS[mix_type]}.csv"
    meta = next((p for p in (mode_dir / "metadata" / csv_name, corpus / "metadata" / csv_name,
                             root / "metadata" / csv_name) if p.is_file()), None)
    if meta is None:
        groups = {"mix": list_audio(split_dir / _MIX_DIRS[mix_type], "LibriMix mixture folder")}
        groups.update({f"s{i}": list_audio(split_dir / f"s{i}", "LibriMix source folder")
                       for i in range(1, n_tgt + 1)})
        if noisy:
            groups["noise"] = list_audio(split_dir / "noise", "LibriMix noise folder")
        rows = [(p["mix"].stem, p["mix"], tuple(p[f"s{i}"] for i in range(1, n_tgt + 1)), p.get("noise"))
                for p in pair_by_key(groups)]
    else:
        rows = _librimix_csv(meta, corpus, split_dir, n_tgt, noisy)
    return [Example(n, m, t, z, tuple(u.split("-")[0] for u in n.split("_")), split) for n, m, t, z in rows]


def _librimix_csv(meta: Path, corpus: Path, split_dir: Path, n_tgt: int, noisy: bool) -> list[tuple]:
    with open(meta, newline="") as f:
        table = list(csv.DictReader(f))
    need = ["mixture_ID", "mixture_path"] + [f"source_{i}_path" for i in range(1, n_tgt + 1)]
    need += ["noise_path"] if noisy else []
    if not table or any(c not in table[0] for c in need):
        raise DataError(f"{meta}: expected the columns {', '.join(need)}; is this a LibriMix metadata file?")

    def where(text: str) -> Path:
        p = Path(text)
        if p.exists():
            return p
        if corpus.name in p.parts:  # re-root .../LibriNMix/wav16k/... at this machine's corpus
            return corpus.joinpath(*p.parts[p.parts.index(corpus.name) + 1:])
        return split_dir / p.parent.name / p.name

    rows, missing = [], []
    for r in table:
        paths = [where(r[c]) for c in need[1:]]
        missing += [str(p) for p in paths if not p.is_file()]
        rows.append((r["mixture_ID"], paths[0], tuple(paths[1:1 + n_tgt]), paths[-1] if noisy else None))
    if missing:
        raise DataError(f"{meta}: {len(missing)} listed file(s) do not exist, e.g. {', '.join(missing[:_SHOW])}; "
                        "regenerate the metadata or fix the corpus root")
    return rows


def wsj0mix(root: str | os.PathLike, n_src: int = 2, sample_rate: int | str = 8000, mode: str = "min",
            split: str = "tt") -> list[Example]:
    """WSJ0-2mix / 3mix mixtures of ``split`` (``tr``, ``cv``, ``tt``), targets ``s1..sN``.

    ``root`` holds ``wav8k/`` (the ``{2,3}speakers`` folder) or ``{n_src}speakers/``. Speaker ids are the
    first three characters of each WSJ0 utterance id in the mixture name (``01aa010b_0.97_209a010p_-0.97``).
    """
    root = Path(root)
    if n_src not in (2, 3) or mode not in ("min", "max") or split not in ("tr", "cv", "tt"):
        raise DataError(f"WSJ0-mix: n_src must be 2 or 3 (got {n_src}), mode min or max (got {mode!r}), "
                        f"split tr, cv or tt (got {split!r})")
    rate = _rate_dir(sample_rate)
    base = root if (root / rate).is_dir() else root / f"{n_src}speakers"
    split_dir = base / rate / mode / split
    groups = {"mix": list_audio(split_dir / "mix", "WSJ0-mix mixture folder")}
    groups.update({f"s{i}": list_audio(split_dir / f"s{i}", "WSJ0-mix source folder") for i in range(1, n_src + 1)})
    out = []
    for p in pair_by_key(groups):
        parts = p["mix"].stem.split("_")
        spk = tuple(u[:3] for u in parts[0::2]) if len(parts) == 2 * n_src else ()
        out.append(Example(p["mix"].stem, p["mix"], tuple(p[f"s{i}"] for i in range(1, n_src + 1)),
                           speakers=spk, split=split))
    return out
