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
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Sequence

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


def _save(entry: Path, ct: CTVolume, vol: ProjectorVolumes) -> None:
    tmp = entry.parent / f".{entry.name}.tmp-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        np.save(tmp / "density.npy", vol.density)
        np.save(tmp / "code.npy", vol.code)
        np.save(tmp / "blocks.npy", vol.uniform_blocks())
        meta = {
            "shape": list(ct.shape), "spacing": list(ct.spacing), "origin": list(ct.origin),
            "direction": np.asarray(ct.direction, dtype=np.float64).tolist(),
            "structures": {str(k): v for k, v in ct.structures.items()}, "name": ct.name, "source": ct.source,
            "meta": ct.meta, "members": vol.members, "channel_of": {str(k): v for k, v in vol.channel_of.items()},
            "n_channels": vol.n_channels,
            "material_names": vol.material_names,
            "material_present": vol.material_present,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, default=str), encoding="utf-8")
        try:
            os.replace(tmp, entry)
        except OSError:  # another process stored the same entry first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load(entry: Path) -> tuple[CTVolume, ProjectorVolumes]:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    density = np.load(entry / "density.npy", mmap_mode="r")
    code = np.load(entry / "code.npy", mmap_mode="r")
    shape = tuple(meta["shape"])
    ct = CTVolume(
        hu=torch.zeros(1).expand(*shape), spacing=tuple(meta["spacing"]), origin=tuple(meta["origin"]),
        direction=np.asarray(meta["direction"], dtype=np.float64), labels=None,
        structures={int(k): v for k, v in meta["structures"].items()}, name=meta["name"], source=meta["source"],
        meta=meta.get("meta") or {},
    )
    vol = ProjectorVolumes(
        density=np.asarray(density), code=np.asarray(code), members={k: list(v) for k, v in meta["members"].items()},
        channel_of={int(k): int(v) for k, v in meta["channel_of"].items()}, n_channels=int(meta["n_channels"]),
        material_names=list(meta["material_names"]), material_present=[bool(b) for b in meta["material_present"]],
    )
    _load_blocks(entry, vol)
    return ct, vol


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
) -> tuple[CTVolume, ProjectorVolumes]:
    """The CT (header-only: see :func:`header_only`) and its projector volumes for ``structures``.

    ``paths``: the input files that determine the CT (CT file or folder, label map, structure table);
    ``settings``: everything else that does (e.g. downsampling); ``load_ct``: loads the CT on a miss.
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
                return _load(entry)
            except (OSError, ValueError, KeyError):  # a damaged entry: rebuild it below
                shutil.rmtree(entry, ignore_errors=True)
    ct = load_ct()
    vol = build_volumes(ct, structures, cfg)
    if root is not None and key is not None:
        try:
            _save(root / "volumes" / key, ct, vol)
        except OSError:
            pass
    return header_only(ct), vol  # the voxels now live in ``vol``: let the decoded CT go
