"""Crash-safe file writing: write under a temporary name, then rename.

A reader never sees a half-written file: either the old file, no file, or the
complete new one. Temporary names end in ``.tmp`` and carry the process id so
that two workers never collide: ``.<name>.<pid>.tmp`` next to ``<name>``.
:func:`remove_temporaries_of` (one file's) and :func:`remove_stale_temporaries` (a whole folder's) clean the
ones a killed process left behind; both remove only names of exactly that form, never other ``*.tmp`` files.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterator

TMP_SUFFIX = ".tmp"
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")


def temporaries_in(folder: str | os.PathLike) -> dict[str, list[Path]]:
    """``{name: [its temporaries]}`` of the ``.<name>.<pid>.tmp`` files directly in ``folder`` (one listing)."""
    found: dict[str, list[Path]] = {}
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        with os.scandir(os.fspath(Path(folder))) as it:
            for e in it:
                m = _TMP_RE.match(e.name)
                if m:
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


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        yield tmp
        if tmp.exists():
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    finally:
        if tmp.exists():
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

    Call it only on a folder this process owns and no other process is writing into.
    """
    n = 0
    for p in Path(folder).rglob(f".*{TMP_SUFFIX}"):
        if _TMP_RE.match(p.name) and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                n += 1
    return n
