"""Crash-safe file writing: write under a temporary name, then rename.

A reader never sees a half-written file: either the old file, no file, or the
complete new one. Temporary names end in ``.tmp`` and carry the process id so
that two workers never collide: ``.<name>.<pid>.tmp`` next to ``<name>``.
:func:`remove_temporaries_of` (one file's) and :func:`remove_stale_temporaries` (a whole folder's) clean the
ones a killed process left behind; both remove only names of exactly that form, never other ``*.tmp`` files, and
never the temporaries of a process that is still running on this machine (another writer's files in flight).
:func:`atomic_path` raises :class:`~xraylab.errors.WriteConflictError` when its temporary file vanished before the
rename, and adds the destination path to an ``OSError`` (e.g. ENOSPC) that names no file.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterator

from xraylab.errors import WriteConflictError

TMP_SUFFIX = ".tmp"
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")


def temporaries_in(folder: str | os.PathLike) -> dict[str, list[Path]]:
    """``{name: [its temporaries]}`` of the ``.<name>.<pid>.tmp`` files directly in ``folder`` (one listing)."""
    found: dict[str, list[Path]] = {}
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        with os.scandir(os.fspath(Path(folder))) as it:
            for e in it:
                m = _TMP_RE.match(e.name)
                if m and not _in_flight(int(m["pid"])):
                    found.setdefault(m["name"], []).append(Path(e.path))
    return found


def remove_temporaries_of(path: str | os.PathLike, index: dict[str, list[Path]] | None = None) -> int:
    """Delete the temporaries of ``path`` (``.<name>.<pid>.tmp`` beside it) a killed writer left; return how many.

    ``index`` is :func:`temporaries_in` of ``path``'s folder, to list a large folder once for many files.
    """
    path = Path(path)
    if index is None:
        index = temporaries_in(path.parent)
    n = 0
    for p in index.pop(path.name, []):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            n += 1
    return n


def _in_flight(pid: int) -> bool:
    """True when temporaries of ``pid`` may still be written: another process with that pid is running here."""
    if pid == os.getpid():
        return False
    from xraylab.io.lock import pid_alive

    return pid_alive(pid)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched. When the body wrote nothing, or the
    temporary file vanished (another process removed it), :class:`WriteConflictError` is raised; an ``OSError``
    without a file name (ENOSPC while writing, …) is re-raised naming ``path``.
    """
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        try:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except FileNotFoundError:
            if tmp.exists() or not path.parent.is_dir():
                raise
            raise WriteConflictError(
                f"{path}: its temporary file {tmp.name} vanished before the rename (another process cleaned this "
                "folder); make sure only one xraylab command writes into it, then run the same command again"
            ) from None
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete the temporaries (``.<name>.<pid>.tmp``) left anywhere under ``folder``; return how many.

    Temporaries of processes still running on this machine are kept (their writers may be mid-write).
    """
    n = 0
    for p in Path(folder).rglob(f".*{TMP_SUFFIX}"):
        m = _TMP_RE.match(p.name)
        if m and not _in_flight(int(m["pid"])) and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                n += 1
    return n
