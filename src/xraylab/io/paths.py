"""Paths built from user input stay inside their root.

Spec names, subject ids, manifest entries and dataset rows become parts of paths; a value such as
``../../etc/passwd`` or ``/etc/passwd`` must not reach outside the folder it is relative to. :func:`confined`
joins and resolves (symbolic links followed, ``..`` collapsed) and raises a one-line
:class:`~xraylab.errors.PathEscapeError` naming the value, where it came from and the root when the result
leaves the root. :func:`safe_name` checks a single path component (a run or dataset name).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from xraylab.errors import PathEscapeError

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$")


def is_inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """True when ``path`` resolves to ``root`` itself or somewhere below it."""
    p, r = Path(path).resolve(), Path(root).resolve()
    return p == r or r in p.parents


def confined(root: str | os.PathLike, rel: str | os.PathLike, what: str) -> Path:
    """``root / rel`` when it resolves inside ``root``; else :class:`PathEscapeError`.

    ``what`` names where ``rel`` came from (e.g. ``"manifest.parquet row 3, column image"``). An absolute
    ``rel`` is accepted only when it lies inside ``root``. Returns the joined (unresolved) path, so
    messages keep the user's spelling.
    """
    root = Path(root)
    text = os.fspath(rel)
    if not text or "\x00" in text:
        raise PathEscapeError(f"{what}: empty or invalid path {text!r}; give a path inside {root}")
    joined = root / text
    if not is_inside(joined, root):
        raise PathEscapeError(f"{what}: path {text!r} leads outside {root}; paths must stay inside that folder "
                              "(no '..' or absolute paths)")
    return joined


def safe_name(name: str, what: str) -> str:
    """``name`` when it is a single safe path component (letters, digits, ``._+-``, not starting with ``.``)."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or name in (".", ".."):
        raise PathEscapeError(f"{what} {name!r}: use letters, digits, '.', '_', '+' or '-' only (no '/', '..' or "
                              "leading '.'), since it names a folder")
    return name
