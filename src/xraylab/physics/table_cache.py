"""The xraylab cache folder, and an on-disk memo for the physics tables that take seconds to compute.

A spectrum from spekpy, a μ/ρ table from xraydb and a grid's angular transmission depend only on their
arguments and on the library versions, yet computing them (and importing spekpy, ~2 s) dominated the start-up
of a first render. :func:`disk_memo` stores each result in ``<cache>/tables/<namespace>/<key>.npz`` (arrays
and floats only, loaded without pickle), keyed by the SHA-256 of the arguments' ``repr``, the namespace's
version and the versions of xraylab, spekpy and xraydb; a later process loads it in milliseconds without importing
either library. Files are written to a temporary name and renamed (a reader sees a whole entry or none); an
unreadable entry is recomputed; a cache that cannot be written is skipped.

Location (shared with :mod:`xraylab.physics.volume_cache`): ``$XRAYLAB_CACHE`` if set, else
``$XDG_CACHE_HOME/xraylab`` or ``~/.cache/xraylab``; ``XRAYLAB_CACHE=off`` disables both caches.

Seed tables: the package ships the entries that ``xraylab demo`` and ``xraylab render default`` need
(:data:`SEED_DIR`, 39 files, 76 kB, written by ``scripts/make_seed_tables.py`` with the arguments of each entry
in ``manifest.json``), looked up after the user's cache and under the same key, so a first run on a fresh machine
neither imports spekpy nor computes its spectra (about 1 s). The key holds the library versions: with another
spekpy or xraydb than the seeds were made with, they are simply not found and the tables are computed as before.
``tests/physics/test_table_cache.py`` recomputes every seed entry and compares.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import uuid
from pathlib import Path
from typing import Any, Callable

import numpy as np

# Versions of the libraries whose numbers the tables hold: a new spekpy or xraydb gets new entries.
_LIBRARIES = ("spekpy", "xraydb")
SEED_DIR = Path(__file__).with_name("seed_tables")  # tables shipped with the package (see the module docstring)
MEMOISED: dict[str, tuple[Callable, int]] = {}  # namespace → (memoised function, version); ``__wrapped__`` computes
# "<namespace>/<key>.npz" → arguments of every entry looked up while RECORD_USED is on (scripts/make_seed_tables.py)
USED: dict[str, tuple] = {}
RECORD_USED = False


def cache_root() -> Path | None:
    """The cache folder, or None when ``XRAYLAB_CACHE`` is ``off``/``0``/``false``/``no``/``none``."""
    env = os.environ.get("XRAYLAB_CACHE")
    if env is not None:
        if env.strip().lower() in ("off", "0", "false", "no", "none"):
            return None
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xraylab"


@functools.lru_cache(maxsize=1)
def _library_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from xraylab import __version__

    out = [f"xraylab={__version__}"]
    for name in _LIBRARIES:
        try:
            out.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            out.append(f"{name}=absent")
    return ";".join(out)


def _encode(value) -> bytes:
    """npz bytes of an array, a float or a tuple of them (``kind`` records which)."""
    items = value if isinstance(value, tuple) else (value,)
    arrays = {f"v{i}": np.asarray(v) for i, v in enumerate(items)}
    kinds = "".join("a" if isinstance(v, np.ndarray) else "f" for v in items)
    payload: dict[str, Any] = {"kind": np.array("t" + kinds if isinstance(value, tuple) else kinds), **arrays}
    buf = io.BytesIO()
    np.savez(buf, **payload)
    return buf.getvalue()


def _decode(data: bytes):
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        kind = str(z["kind"])
        is_tuple = kind.startswith("t")
        kinds = kind[1:] if is_tuple else kind
        items = [np.array(z[f"v{i}"]) if k == "a" else float(z[f"v{i}"]) for i, k in enumerate(kinds)]
    return tuple(items) if is_tuple else items[0]


def entry_name(namespace: str, version: int, args: tuple) -> str:
    """``<namespace>/<key>.npz``: where :func:`disk_memo` keeps ``args``' value under a cache or seed folder."""
    text = repr((namespace, version, _library_versions(), args))
    return f"{namespace}/{hashlib.sha256(text.encode()).hexdigest()[:32]}.npz"


def _read_entry(path: Path):
    """The value stored at ``path``, or None when it is absent or damaged."""
    try:
        return _decode(path.read_bytes())
    except (OSError, ValueError, KeyError, EOFError):
        return None


def disk_memo(namespace: str, version: int = 1) -> Callable:
    """Memoise a pure function of hashable arguments in memory (LRU) and on disk.

    The function must return a numpy array, a float, or a tuple of those; bump ``version`` when its
    meaning changes. Arrays returned from the disk are fresh copies (writeable). Lookup order: memory, the
    cache folder, the shipped seed tables (:data:`SEED_DIR`), then the function itself (stored in the cache).
    ``XRAYLAB_CACHE=off`` computes every value (neither the cache nor the seeds are read)."""

    def deco(fn: Callable) -> Callable:
        @functools.lru_cache(maxsize=256)
        @functools.wraps(fn)
        def wrapper(*args):
            root = cache_root()
            if root is None:
                return fn(*args)
            name = entry_name(namespace, version, args)
            if RECORD_USED:
                USED[name] = args
            path = root / "tables" / name
            for source in (path, SEED_DIR / name):
                value = _read_entry(source)
                if value is not None:
                    return value
            value = fn(*args)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
                try:
                    tmp.write_bytes(_encode(value))
                    os.replace(tmp, path)
                finally:
                    tmp.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only cache: the value is still returned
            return value

        MEMOISED[namespace] = (wrapper, version)
        return wrapper

    return deco
