"""Which folders xraylab may replace: a marker in every output folder it makes, and guards on ``--out``.

Every output folder xraylab creates holds ``.xraylab/job.json`` (the dataset writer's state, which names the job
that made the folder; ``xraylab render`` writes one too). ``--overwrite`` deletes a folder only when it carries
that marker — a folder of user files, an input DICOM series or the working folder never does — and never the
working folder itself, one of its ancestors, the file-system root, an input or an ancestor of an input. Every
command also refuses an output folder inside one of its inputs (``import folder SRC --out SRC/masks/x`` would
change the source it reads).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from xraylab.errors import ConfigError

STATE_DIR = ".xraylab"
MARKER = f"{STATE_DIR}/job.json"
LEGACY_MARKER = f"{STATE_DIR}/spec.json"  # generate's state before the shared dataset writer


def is_owned(folder: str | os.PathLike) -> bool:
    """True when ``folder`` carries the marker of a folder xraylab made (``.xraylab/job.json`` or the legacy
    ``.xraylab/spec.json``)."""
    f = Path(folder)
    return (f / MARKER).is_file() or (f / LEGACY_MARKER).is_file()


def write_marker(folder: str | os.PathLike, kind: str, job: dict[str, Any] | None = None) -> Path:
    """Write ``folder/.xraylab/job.json`` (``kind``, ``job``; no fingerprint) atomically; returns its path."""
    from xraylab.io.atomic import write_text

    path = Path(folder) / MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps({"fingerprint": None, "job": job or {}, "kind": kind}, indent=2, sort_keys=True,
                                default=str) + "\n")
    return path


def _resolved(p: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.realpath(p)))


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _given(inputs: Iterable[str | os.PathLike | None]) -> list[str | os.PathLike]:
    """The inputs that name an existing file or folder (``None``, ``""`` and ``"default"`` — the embedded CT — not)."""
    return [i for i in inputs if i is not None and str(i) not in ("", "default") and Path(i).exists()]


def check_not_inside_inputs(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None],
                            option: str = "--out") -> None:
    """Refuse an output ``out`` that is one of ``inputs`` or lies inside one of them.

    ``inputs``: files or folders the command reads (``None`` entries are ignored). Raises a one-line
    :class:`ConfigError` naming both paths.
    """
    o = _resolved(out)
    for inp in _given(inputs):
        i = _resolved(inp)
        if _is_within(o, i):
            where = "is" if o == i else "lies inside"
            raise ConfigError(f"{out}: {option} {where} the input {inp}; writing there would change what the command "
                              "reads — choose an --out outside it")


def check_replaceable(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (),
                      option: str = "--out") -> None:
    """Refuse to delete ``out`` for ``--overwrite`` unless xraylab made it and it is safe to remove.

    Safe means: ``out`` carries the marker (:func:`is_owned`), is not the file-system root, the working folder or
    an ancestor of it, and neither is nor holds one of ``inputs``. An ``out`` that does not exist passes.
    """
    p = Path(out)
    if not p.exists():
        return
    o = _resolved(p)
    cwd = _resolved(os.getcwd())
    if o == Path(o.anchor) or _is_within(cwd, o):
        raise ConfigError(f"{out}: --overwrite would delete the working folder or one of its parents; give --out a "
                          "subfolder of its own")
    for inp in _given(inputs):
        if _is_within(_resolved(inp), o):
            raise ConfigError(f"{out}: --overwrite would delete the input {inp}; choose another {option}")
    if p.is_dir() and any(p.iterdir()) and not is_owned(p):
        raise ConfigError(f"{out}: folder was not made by xraylab (no {MARKER}); --overwrite deletes only folders "
                          f"xraylab made — move its files away or choose another {option}")
