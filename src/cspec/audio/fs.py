"""The file-system side of writing outputs: reasons in words, write probes, temporary files and their cleanup.

* :func:`os_reason` turns an :class:`OSError` into the few words a user needs ("permission denied", "disk full",
  "read-only file system", "not a directory", "too many levels of symbolic links" ...), from its ``errno``.
* :func:`check_writable` finds out before any work whether a file can be created at a path: it walks up to the
  nearest existing folder and creates (and removes) a probe file there, since neither ``os.access`` (root passes
  it everywhere) nor the mode bits tell the truth on read-only mounts, ``/sys`` or full disks.
* :func:`temp_path` names the hidden temporary file that an atomic write renames into place:
  ``.<name>.<pid>.<random>.part.<ext>``, so that :func:`remove_stale` can tell a file left by a killed process
  (its pid no longer runs) from one that another running process is still writing, and remove only the former.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path

from cspec.errors import AudioError

__all__ = ["os_reason", "check_writable", "temp_path", "remove_stale", "is_temp_name", "write_error",
           "process_running"]

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied (operation not permitted)",
    errno.ENOSPC: "disk full (no space left on the device)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "not a directory: a part of the path is a file",
    errno.EISDIR: "is a folder",
    errno.ENOENT: "no such file or folder",
    errno.ELOOP: "too many levels of symbolic links (a symlink loop)",
    errno.ENAMETOOLONG: "file name too long",
    errno.EFBIG: "file too large for the file system",
    errno.EIO: "input/output error",
    errno.EMFILE: "too many open files",
}

_SWEPT: set[str] = set()  # folders remove_stale(once=True) has swept in this process

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.part\.[^.]+$")


def os_reason(exc: BaseException) -> str:
    """A short reason for an :class:`OSError` (from its errno), else the exception's first line."""
    if isinstance(exc, OSError) and exc.errno in _REASONS:
        return _REASONS[exc.errno]
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def write_error(path: str | os.PathLike, exc: BaseException) -> AudioError:
    """The :class:`AudioError` for a failed write of ``path``: ``"<path>: cannot write (<reason>)"``.

    libsndfile reports every failed write as "System error."; the reason is then found by probing the folder
    (:func:`check_writable`) and, failing that, by the free space left on its device.
    """
    path = Path(path)
    if isinstance(exc, OSError) and exc.errno:
        return AudioError(f"{path}: cannot write ({os_reason(exc)})")
    try:
        check_writable(path)
    except AudioError as probe:
        return probe
    try:
        st = os.statvfs(_existing_folder(path)[0])
        if st.f_bavail * st.f_frsize < 1 << 16:
            return AudioError(f"{path}: cannot write ({_REASONS[errno.ENOSPC]})")
    except OSError:
        pass
    text = str(exc).strip()
    return AudioError(f"{path}: cannot write ({text.splitlines()[0] if text else type(exc).__name__})")


def _existing_folder(path: Path) -> tuple[Path, bool]:
    """The nearest folder above ``path`` that exists, and whether folders between them are missing.

    A part of the path that is a file ends the walk there (:func:`check_writable` names it); other errors of
    ``stat`` (permission denied, a symlink loop) raise :class:`AudioError`.
    """
    folder, missing = path.parent, False
    while True:
        try:
            os.stat(folder)
            return folder, missing
        except (FileNotFoundError, NotADirectoryError):  # walk up to the part of the path that exists
            if folder.parent == folder:
                return folder, missing
            folder, missing = folder.parent, True
        except OSError as exc:
            raise AudioError(f"{path}: cannot write ({os_reason(exc)})") from None


def check_writable(path: str | os.PathLike) -> None:
    """Raise :class:`AudioError` naming ``path`` and the reason if a file cannot be created at ``path``.

    Nothing is left behind: missing folders are not created, the probe file is removed at once.
    """
    path = Path(path)
    folder, missing = _existing_folder(path)
    if not stat.S_ISDIR(os.stat(folder).st_mode):
        raise AudioError(f"{path}: cannot write (not a directory: {folder} is a file)")
    probe = folder / f".cspec-probe.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise AudioError(f"{path}: cannot write ({os_reason(exc)}{': ' + str(folder) if missing else ''})") from None
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass


def temp_path(path: str | os.PathLike, ext: str) -> Path:
    """A fresh hidden temporary file beside ``path``, created empty (mode as a plain ``open`` would give)."""
    path = Path(path)
    while True:
        tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part.{ext}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise AudioError(f"{path}: cannot write ({os_reason(exc)})") from None
        os.close(fd)
        return tmp


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of cspec's temporary ``.part`` files (never an input, never an output)."""
    return bool(_TEMP.match(name)) or (name.startswith(".") and ".part." in name)


def process_running(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (this one included; another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a process of another user runs with that pid
        return True
    return True


def remove_stale(folder: str | os.PathLike, once: bool = False) -> list[Path]:
    """Remove the temporary files in ``folder`` left by processes that no longer run; return what was removed.

    With ``once``, a folder already swept by this process is not listed again (writers call it for every file
    they write; a batch into one folder would list it once per file).
    """
    removed: list[Path] = []
    if once:
        key = os.path.realpath(folder)
        if key in _SWEPT:
            return removed
        _SWEPT.add(key)
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP.match(name)
        if m and not process_running(int(m.group("pid"))):
            try:
                os.unlink(Path(folder) / name)
                removed.append(Path(folder) / name)
            except OSError:
                pass
    return removed
