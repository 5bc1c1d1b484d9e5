"""On-disk cache of the projector's volumes, keyed by the content of the CT files.

Building a :class:`~xraylab.physics.volumes.ProjectorVolumes` needs the CT decoded (seconds for a compressed
NIfTI) and one pass over its voxels; both depend only on the input files and settings. :func:`load_or_build`
hashes the input files (SHA-256 of their bytes, every file of a DICOM folder), and on a hit memory-maps the
stored ``density.npy`` / ``code.npy`` (and ``blocks.npy``, the march's uniform-block grid:
:mod:`xraylab.physics.occupancy`) and rebuilds a *header-only* :class:`~xraylab.io.ct.CTVolume` (its
geometry and structure table; ``hu`` is a zero-stride placeholder that holds no memory) — so that a repeated
render neither decodes the CT nor rebuilds the volumes.

Location: ``$XRAYLAB_CACHE`` if set, else ``$XDG_CACHE_HOME/xraylab`` or ``~/.cache/xraylab``; entries live in
``volumes/<key>/`` and are written to a temporary folder and renamed into place (atomic: a reader sees a whole
entry or none). ``XRAYLAB_CACHE=off`` disables the cache. Entries are about 5 bytes per voxel (175 MB for the
default CT); delete the folder to reclaim the space.

A *derived* CT — a deformation of another CT fixed by a few arrays (pseudo-subjects, anatomy and
silhouette-matched subjects of :mod:`xraylab.data`) — is stored compactly (:class:`Derivation`): the entry keeps
``derivation.npz`` (those arrays: a pseudo-subject's coarse control grid or an anatomy subject's landmarks, a few
kB; a silhouette subject's detector field, 16 bytes per detector pixel) and the SHA-256 of the volumes instead of
the volumes, and a hit rebuilds the volumes from the source CT through the same code, checking them against that
hash (a mismatch rebuilds the entry from scratch). So an extra pseudo or anatomy subject costs about 10 kB (0.04 %
of the default CT's entry at ÷2), and loading it costs the deformation and the volume build (not the analysis:
body centroid, landmarks, silhouette registration). ``XRAYLAB_CACHE_DERIVED=full`` stores derived CTs'
volumes in full instead (loading then only maps them, at 5 bytes per voxel each); ``compact`` is the default.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from xraylab.io.atomic import write_bytes
from xraylab.io.ct import CTVolume
from xraylab.physics.materials import MaterialConfig
from xraylab.physics.occupancy import grid_shape
from xraylab.physics.table_cache import cache_root
from xraylab.physics.volumes import ProjectorVolumes, build_volumes

# Bump when the stored format or the volume build changes meaning.
CACHE_VERSION = 2  # 2: seven materials (metal, contrast) and their names in meta.json


@dataclass(frozen=True)
class Derivation:
    """How to make a derived CT and how to remake it from the arrays that fix its deformation.

    ``make()``: the CT and those arrays (name → numpy array; 0-d arrays come back to ``remake`` as Python
    scalars); ``remake(arrays)``: the same CT, bit for bit, from them (typically the source CT deformed again).
    """

    make: Callable[[], tuple[CTVolume, dict[str, Any]]]
    remake: Callable[[dict[str, Any]], CTVolume]


def _hash_path(h: "hashlib._Hash", path: Path) -> None:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)


def cache_key(paths: Sequence[str | os.PathLike | None], settings: dict) -> str:
    """SHA-256 (hex, first 32 characters) of the files' bytes and the JSON of ``settings``."""
    from xraylab import __version__

    h = hashlib.sha256(f"xraylab-{__version__}-volumes-v{CACHE_VERSION}".encode())
    for p in paths:
        if p is None:
            h.update(b"<none>")
            continue
        _hash_path(h, Path(p))
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def header_only(ct: CTVolume) -> CTVolume:
    """A copy of ``ct`` without voxel data: ``hu`` is a zero-stride ``[I, J, K]`` view of one zero, no labels."""
    from dataclasses import replace

    return replace(ct, hu=torch.zeros(1).expand(*ct.shape), labels=None)


def _header_meta(ct: CTVolume, vol: ProjectorVolumes) -> dict[str, Any]:
    return {
        "shape": list(ct.shape), "spacing": list(ct.spacing), "origin": list(ct.origin),
        "direction": np.asarray(ct.direction, dtype=np.float64).tolist(),
        "structures": {str(k): v for k, v in ct.structures.items()}, "name": ct.name, "source": ct.source,
        "meta": ct.meta, "members": vol.members, "channel_of": {str(k): v for k, v in vol.channel_of.items()},
        "n_channels": vol.n_channels,
        "material_names": vol.material_names,
        "material_present": vol.material_present,
    }


def volumes_digest(vol: ProjectorVolumes) -> str:
    """SHA-256 (hex) of the density and code volumes' dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for a in (vol.density, vol.code):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def _save(entry: Path, ct: CTVolume, vol: ProjectorVolumes, derived: dict[str, Any] | None = None) -> None:
    """Store a full entry (the volumes), or with ``derived`` (a :class:`Derivation`'s arrays) a compact one."""
    tmp = entry.parent / f".{entry.name}.tmp-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        meta = _header_meta(ct, vol)
        if derived is None:
            np.save(tmp / "density.npy", vol.density)
            np.save(tmp / "code.npy", vol.code)
            np.save(tmp / "blocks.npy", vol.uniform_blocks())
        else:
            with open(tmp / "derivation.npz", "wb") as fh:
                np.savez(fh, **{k: np.asarray(v) for k, v in derived.items()})  # type: ignore[arg-type]
            meta["derived"] = {"volumes_sha256": volumes_digest(vol)}
        (tmp / "meta.json").write_text(json.dumps(meta, default=str), encoding="utf-8")
        try:
            os.replace(tmp, entry)
        except OSError:  # another process stored the same entry first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _header(meta: dict[str, Any]) -> CTVolume:
    shape = tuple(meta["shape"])
    return CTVolume(
        hu=torch.zeros(1).expand(*shape), spacing=tuple(meta["spacing"]), origin=tuple(meta["origin"]),
        direction=np.asarray(meta["direction"], dtype=np.float64), labels=None,
        structures={int(k): v for k, v in meta["structures"].items()}, name=meta["name"], source=meta["source"],
        meta=meta.get("meta") or {},
    )


def _load(entry: Path) -> tuple[CTVolume, ProjectorVolumes]:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    density = np.load(entry / "density.npy", mmap_mode="r")
    code = np.load(entry / "code.npy", mmap_mode="r")
    vol = ProjectorVolumes(
        density=np.asarray(density), code=np.asarray(code), members={k: list(v) for k, v in meta["members"].items()},
        channel_of={int(k): int(v) for k, v in meta["channel_of"].items()}, n_channels=int(meta["n_channels"]),
        material_names=list(meta["material_names"]), material_present=[bool(b) for b in meta["material_present"]],
    )
    _load_blocks(entry, vol)
    return _header(meta), vol


def _remake(entry: Path, derivation: Derivation, structures: Sequence[str],
            cfg: MaterialConfig) -> tuple[CTVolume, ProjectorVolumes] | None:
    """A compact entry's CT and volumes rebuilt through ``derivation``; None when they differ from the stored hash."""
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    with np.load(entry / "derivation.npz", allow_pickle=False) as npz:
        arrays = {k: (npz[k].item() if npz[k].ndim == 0 else npz[k]) for k in npz.files}
    ct = derivation.remake(arrays)
    vol = build_volumes(ct, structures, cfg)
    if volumes_digest(vol) != meta["derived"]["volumes_sha256"]:
        return None
    return header_only(ct), vol


def _derived_policy() -> str:
    """``XRAYLAB_CACHE_DERIVED``: ``compact`` (default) or ``full``."""
    value = os.environ.get("XRAYLAB_CACHE_DERIVED", "compact").strip().lower() or "compact"
    if value not in ("compact", "full"):
        from xraylab.errors import ConfigError

        raise ConfigError(f"XRAYLAB_CACHE_DERIVED={value!r}: choose 'compact' (deformation arrays, the default) or "
                          "'full' (the deformed volumes)")
    return value


def _load_blocks(entry: Path, vol: ProjectorVolumes) -> None:
    """Attach the entry's uniform-block grid to ``vol``; an entry stored before the grid existed gets it built
    now and added (written under a temporary name and renamed: a concurrent reader sees the whole file or none)."""
    path = entry / "blocks.npy"
    if path.is_file():
        try:
            blocks = np.load(path)
            if blocks.shape == grid_shape(vol.density.shape) and blocks.dtype == np.uint8:
                vol.blocks = blocks
                return
        except (OSError, ValueError):
            pass
    buf = io.BytesIO()
    np.save(buf, vol.uniform_blocks())
    try:
        write_bytes(path, buf.getvalue())
    except OSError:  # a read-only cache: the grid lives in memory only
        pass


def load_or_build(
    paths: Sequence[str | os.PathLike | None],
    settings: dict,
    load_ct: Callable[[], CTVolume],
    structures: Sequence[str] = (),
    materials: MaterialConfig | None = None,
    derivation: Derivation | None = None,
) -> tuple[CTVolume, ProjectorVolumes]:
    """The CT (header-only: see :func:`header_only`) and its projector volumes for ``structures``.

    ``paths``: the input files that determine the CT (CT file or folder, label map, structure table);
    ``settings``: everything else that does (e.g. downsampling); ``load_ct``: loads the CT on a miss.
    ``derivation``: the CT is a deformation of another; its entry is then compact (module docstring) and
    ``derivation.make`` replaces ``load_ct`` on a miss. An existing full entry of the same key is still used.
    A cache that cannot be written (read-only home) is skipped silently: the render still works.
    """
    cfg = materials or MaterialConfig()
    root = cache_root()
    if any(p is not None and not Path(p).exists() for p in paths):
        root = None  # a missing input: let ``load_ct`` name it in its own one-line error
    key = None
    if root is not None:
        key = cache_key(paths, {**settings, "structures": list(structures), "materials": cfg.model_dump()})
        entry = root / "volumes" / key
        if (entry / "meta.json").is_file():
            try:
                if not (entry / "derivation.npz").is_file():
                    return _load(entry)
                if derivation is not None:
                    hit = _remake(entry, derivation, structures, cfg)
                    if hit is not None:
                        return hit
                    raise ValueError("rebuilt volumes differ from the stored hash")
            except (OSError, ValueError, KeyError):  # a damaged or stale entry: rebuild it below
                shutil.rmtree(entry, ignore_errors=True)
    arrays = None
    if derivation is not None:
        ct, arrays = derivation.make()
        if _derived_policy() == "full":
            arrays = None
    else:
        ct = load_ct()
    vol = build_volumes(ct, structures, cfg)
    if root is not None and key is not None:
        try:
            _save(root / "volumes" / key, ct, vol, arrays)
        except OSError:
            pass
    return header_only(ct), vol  # the voxels now live in ``vol``: let the decoded CT go
