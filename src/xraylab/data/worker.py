"""Rendering of dataset items inside a worker (the calling process, a pool process or a Ray task).

:func:`run_chunk` renders a list of items that all share one CT: the CT is loaded and its
:class:`~xraylab.physics.projector.Projector` built once per worker (cached across chunks of the same CT), then
each item is ray traced, passed through the physics chain with a noise generator seeded by the item's own seed,
resized and written. An item's files are written atomically, then its *record* (its manifest row with the
SHA-256 of every file) is written atomically to ``.xraylab/records/<image_id>.json``: an item is complete exactly
when its record exists, which is what resuming and the manifest rely on.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

STATE_DIR = ".xraylab"
RECORDS_DIR = f"{STATE_DIR}/records"

_CT_CACHE: dict[str, Any] = {}
_SIM_CACHE: dict[str, Any] = {}


def record_path(out: Path, image_id: str) -> Path:
    return Path(out) / RECORDS_DIR / f"{image_id}.json"


def item_files(item: dict[str, Any]) -> list[str]:
    """Relative paths of the files an item writes (image, masks, layers)."""
    row = item["row"]
    files = [row["image"]] + [v for k, v in row.items() if k.startswith("mask:") and v]
    if row.get("layers"):
        files.append(row["layers"])
    return files


def is_complete(out: Path, item: dict[str, Any]) -> bool:
    """True when the item's record and all its files exist."""
    if not record_path(out, item["image_id"]).is_file():
        return False
    return all((Path(out) / f).is_file() for f in item_files(item))


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A deterministic ``.npz`` (fixed zip timestamps, sorted members, deflate) of float32 arrays."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name], dtype=np.float32), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def _clean_temporaries(path: Path) -> None:
    """Remove temporaries of ``path`` left by a killed writer (``.<name>.<pid>.tmp``)."""
    if path.parent.is_dir():
        for p in path.parent.glob(f".{path.name}.*.tmp"):
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def _projector(ct_ref: dict, structures: list[str], render: dict):
    """The (ct, projector) of a CT, cached per worker process (one CT at a time, to bound memory)."""
    from xraylab.data.sources import CTRef, load_ref
    from xraylab.physics.projector import Projector

    key = json.dumps([ct_ref, structures, render], sort_keys=True)
    if _CT_CACHE.get("key") != key:
        _CT_CACHE.clear()
        ct = load_ref(CTRef.from_dict(ct_ref), need_labels=bool(structures))
        proj = Projector(ct, structures=structures, renderer=render["renderer"], n_points=render["n_points"],
                         device=render["device"])
        _CT_CACHE.update(key=key, ct=ct, projector=proj)
    return _CT_CACHE["ct"], _CT_CACHE["projector"]


def _simulator(physics: dict, device: str):
    from xraylab.physics.config import PhysicsConfig
    from xraylab.physics.simulator import XRaySimulator

    key = json.dumps([physics, device], sort_keys=True)
    if key not in _SIM_CACHE:
        if len(_SIM_CACHE) >= 4:
            _SIM_CACHE.pop(next(iter(_SIM_CACHE)))
        _SIM_CACHE[key] = XRaySimulator(PhysicsConfig.model_validate(physics), device=device)
    return _SIM_CACHE[key]


def render_item(item: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Render, write and record one item; returns its record (manifest row with hashes)."""
    import hashlib

    import torch

    from xraylab.io.atomic import write_bytes, write_text
    from xraylab.io.images import mask_png_bytes, png16_bytes, resize_pad
    from xraylab.physics.geometry import Geometry

    out = Path(context["out"])
    render, output = context["render"], context["output"]
    device = render["device"]
    structures = item["structures"]
    _, projector = _projector(item["ct"], structures, render)
    geom = Geometry.model_validate(item["geometry"])
    proj = projector.project(geom)

    # The physics chain sees only the source/detector geometry: the patient pose is already in the line
    # integrals, and a pose-free geometry lets the simulator reuse its cached spectrum/grid/flood layers.
    det_geom = geom.model_copy(update={"rotation_deg": 0.0, "tilt_deg": 0.0, "translation_mm": (0.0, 0.0, 0.0),
                                       "isocenter_mm": None})
    sim = _simulator(item["physics"], device)
    gen = torch.Generator(device=torch.device(device)).manual_seed(int(item["seed"]))

    def rerender(g: Geometry) -> dict:
        return projector.project(geom.model_copy(update={"source_offset_mm": g.source_offset_mm})).materials

    layers = sim.simulate(proj.materials, det_geom, generator=gen, render=rerender)

    size = tuple(output["size"])
    image = resize_pad(layers["image"][0, 0].float(), size).clamp(0.0, 1.0)
    if output["normalize"] == "minmax":
        lo, hi = image.min(), image.max()
        image = (image - lo) / (hi - lo) if float(hi - lo) > 0 else torch.zeros_like(image)
    blobs: dict[str, bytes] = {item["row"]["image"]: png16_bytes(image.cpu().numpy())}
    row = dict(item["row"])
    for s in structures:
        m = proj.paths[s][0, 0] > 0
        if output["mask_resize"] == "nearest":
            mr = resize_pad(m.float(), size, mode="nearest") > 0.5
        else:
            mr = resize_pad(m.float(), size, mode="bilinear") >= output["mask_threshold"]
        blobs[row[f"mask:{s}"]] = mask_png_bytes(mr.cpu().numpy())
    if row.get("layers"):
        arrays = {f"material/{k}": v[0, 0] for k, v in proj.materials.items()}
        arrays.update({f"path/{k}": v[0, 0] for k, v in proj.paths.items()})
        arrays.update({k: layers[k][0, 0] for k in ("primary", "scatter", "noise_free", "normalized")})
        arrays = {k: resize_pad(v.float(), size).cpu().numpy() for k, v in arrays.items()}
        blobs[row["layers"]] = npz_bytes(arrays)

    for rel, data in blobs.items():
        path = out / rel
        _clean_temporaries(path)
        write_bytes(path, data)
        col = next(k for k, v in row.items() if v == rel and not k.startswith("sha256:"))
        row[f"sha256:{col}"] = hashlib.sha256(data).hexdigest()
    rec = record_path(out, item["image_id"])
    _clean_temporaries(rec)
    write_text(rec, json.dumps(row, allow_nan=True) + "\n")
    return row


def run_chunk(
    context: dict[str, Any], items: list[dict[str, Any]], on_item: Callable[[dict], None] | None = None
) -> list[str]:
    """Render ``items`` (all of one CT) unless already complete; returns the image ids rendered.

    Runs with one torch thread and one BLAS/OpenMP thread (the executors run one worker per core, and fixed
    threading keeps every executor's output byte-identical: float sums depend on the thread count). Stops early when the process that started the job has died.
    """
    import contextlib

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:  # numpy's BLAS too: its thread count changes float sums in the spectrum/physics tables
        from threadpoolctl import threadpool_limits

        limits: Any = threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover
        limits = contextlib.nullcontext()
    done: list[str] = []
    parent = context.get("parent_pid")
    try:
        for item in items:
            if parent is not None and context.get("check_parent") and os.getppid() != parent:
                break  # the generating process was killed: leave the rest to the re-run
            if is_complete(Path(context["out"]), item):
                continue
            row = render_item(item, context)
            done.append(item["image_id"])
            if on_item is not None:
                on_item(row)
    finally:
        torch.set_num_threads(threads)
        if hasattr(limits, "restore_original_limits"):
            limits.restore_original_limits()
    return done


def init_pool_worker() -> None:
    """Pool initializer: one torch thread per worker process."""
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
