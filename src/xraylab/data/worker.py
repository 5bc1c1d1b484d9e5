"""Rendering of dataset items inside a worker (the calling process, a pool process or a Ray task).

:func:`run_chunk` renders a list of items that all share one CT: the CT is loaded and its
:class:`~xraylab.physics.projector.Projector` built once per worker (cached across chunks of the same CT), then
each item is ray traced, passed through the physics chain with a noise generator seeded by the item's own seed,
resized and written through the shared :class:`~xraylab.data.writer.DatasetWriter` (attached with
``DatasetWriter.open``): the item's files are written atomically, then its *record* (its manifest row with the
SHA-256 of every file) to ``.xraylab/records/<image_id>.json``: an item is complete exactly when its record (and
its files) exist, which is what resuming and the manifest rely on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from xraylab.data.writer import DatasetWriter
from xraylab.io.images import npz_bytes

_CT_CACHE: dict[str, Any] = {}
_SIM_CACHE: dict[str, Any] = {}

# Second entropy word of an item's framing draw (the first is the item seed, which also seeds the noise).
FRAMING_STREAM = 1
# ... and of its device draw (xraylab.devices.draw_devices).
DEVICES_STREAM = 2


def item_files(item: dict[str, Any]) -> list[str]:
    """Relative paths of the files an item writes (image, masks, layers)."""
    row = item["row"]
    files = [row["image"]] + [v for k, v in row.items() if k.startswith("mask:") and v]
    if row.get("layers"):
        files.append(row["layers"])
    return files


def is_complete(writer: DatasetWriter, item: dict[str, Any]) -> bool:
    """True when the item's record and all its files exist."""
    return writer.is_done(item["image_id"], item_files(item))


def _scene(ct_ref: dict, structures: list[str], render: dict, on_missing: str = "error",
           materials: dict | None = None):
    """The :class:`~xraylab.render.scene.Scene` of a CT, cached per worker process (one CT at a time, to bound
    memory).

    A requested structure named in the CT's label table but without a voxel stops the job with one line
    (``on_missing_structure: error``) or is rendered as an empty mask after one warning line (``skip``; the
    table-level check of :func:`xraylab.data.sources.check_structures` already dropped structures a CT's table
    lacks).
    """
    from xraylab.data.sources import CTRef, load_ref, load_ref_recorded, reload_ref
    from xraylab.io.ct import default_ct_paths
    from xraylab.io.structures import check_structures_present
    from xraylab.render.scene import cached_scene

    key = json.dumps([ct_ref, structures, render, materials], sort_keys=True)
    if _CT_CACHE.get("key") != key:
        _CT_CACHE.clear()
        ref = CTRef.from_dict(ct_ref)

        def load():
            ct = load_ref(ref, need_labels=bool(structures), structures=structures)
            check_structures_present(ct, structures, "error" if on_missing == "error" else "warn")
            return ct

        derivation = None
        if ref.derived:  # a deformed CT: the cache keeps the few arrays that fix its deformation, not its volumes
            from xraylab.physics.volume_cache import Derivation

            def make():
                ct, arrays = load_ref_recorded(ref, need_labels=bool(structures), structures=structures)
                check_structures_present(ct, structures, "error" if on_missing == "error" else "warn")
                return ct, arrays

            derivation = Derivation(make, lambda arrays: reload_ref(ref, bool(structures), structures, arrays))

        # The material × structure volumes come from the on-disk cache when this CT entry (files + every
        # setting in ct_ref: downsampling, pseudo-subject deformation, lung labels) was built before; a CT that
        # failed the structure check above was never stored.
        table = ref.structure_table if isinstance(ref.structure_table, str) else None  # a dict is in ct_ref
        paths = list(default_ct_paths()) if ref.default else [ref.path, ref.labels, table,
                                                              *sorted((ref.label_files or {}).values())]
        from xraylab.physics.materials import MaterialConfig

        scene = cached_scene(paths, {"ct_ref": ct_ref}, load, structures, renderer=render["renderer"],
                             n_points=render["n_points"], device=render["device"],
                             supersample=render.get("supersample", 1), derivation=derivation,
                             materials=MaterialConfig.model_validate(materials) if materials else None)
        _CT_CACHE.update(key=key, scene=scene)
    return _CT_CACHE["scene"]


def _devices(scene, spec: dict | None, seed: int) -> tuple[list, list[str]]:
    """The devices drawn for one item (``spec``: a generate spec's ``devices`` block as a dict, or None) and the
    kinds the spec can draw (each has a mask column)."""
    if not spec:
        return [], []
    from xraylab.devices import DevicesSpec, draw_devices

    ds = DevicesSpec.model_validate(spec)
    rng = np.random.default_rng([seed, DEVICES_STREAM])
    return draw_devices(scene.anatomy, ds, rng), ds.kinds


def _simulator(physics: dict, device: str):
    from xraylab.physics.config import PhysicsConfig
    from xraylab.physics.simulator import XRaySimulator

    key = json.dumps([physics, device], sort_keys=True)
    if key not in _SIM_CACHE:
        if len(_SIM_CACHE) >= 4:
            _SIM_CACHE.pop(next(iter(_SIM_CACHE)))
        _SIM_CACHE[key] = XRaySimulator(PhysicsConfig.model_validate(physics), device=device)
    return _SIM_CACHE[key]


def render_item(item: dict[str, Any], context: dict[str, Any], writer: DatasetWriter | None = None) -> dict[str, Any]:
    """Render, write and record one item; returns its record (manifest row with hashes)."""
    from xraylab.io.images import mask_png_bytes, png16_bytes
    from xraylab.io.preprocess import output_pixel_spacing
    from xraylab.physics.geometry import Geometry
    from xraylab.render.view import DATASET_LAYERS, crop_box, for_processing_png, framing_box, view_arrays

    out = Path(context["out"])
    render, output = context["render"], context["output"]
    structures = item["structures"]
    drawn = [item.get("drawn_as", {}).get(s, s) for s in structures]  # a lung convention's structure, if any
    scene = _scene(item["ct"], drawn, render, context.get("on_missing_structure", "error"),
                   item["physics"].get("materials"))
    sim = _simulator(item["physics"], render["device"])
    devices, kinds = _devices(scene, context.get("devices"), int(item["seed"]))
    result = scene.render(Geometry.model_validate(item["geometry"]), sim.config, seed=int(item["seed"]),
                          simulator=sim, devices=devices,
                          device_supersample=int((context.get("devices") or {}).get("supersample", 4)))
    paths = result.projection.paths
    result.projection.paths = {**{s: paths[d] for s, d in zip(structures, drawn)},
                               **{k: paths[k] for k in kinds if k in paths}}
    row = dict(item["row"])
    if context.get("devices"):  # what was drawn and where its tip lies (xraylab.devices.library)
        placed = {d.kind: d.params for d in devices}
        row["devices"] = json.dumps([{"kind": d.kind, **d.params} for d in devices], sort_keys=True)
        for k in kinds:
            row[f"device:{k}"] = placed[k]["status"] if k in placed else None
    crop = None
    framing = output.get("framing")
    if framing:
        rng = np.random.default_rng([int(item["seed"]), FRAMING_STREAM])
        margins = {k: tuple(framing[k]) for k in ("top", "bottom", "left", "right")}
        crop = framing_box(result.projection.paths[framing["structure"]][0, 0] > 0, margins, rng)
    # A framed view stays inside the exposed field (collimation.field: auto ends it where the CT's S-I extent
    # ends); output.crop_to_field cuts an unframed view to it too.
    geom = result.projection.geometries[0]
    if framing or output.get("crop_to_field"):
        box = crop_box(result, crop, True)
        crop = None if box == (0, geom.rows, 0, geom.cols) else box
        row["framing_box"] = json.dumps(list(crop) if crop is not None else None)
    row["field"] = json.dumps(result.field, sort_keys=True)
    d = result.dose  # xraylab.physics.dose: the patient dose of this view
    row["esak_ugy"] = round(d["entrance_surface_air_kerma_ugy"], 3)
    row["dap_gy_cm2"] = round(d["dose_area_product_gy_cm2"], 6)
    row["detector_kerma_ugy"] = round(d["detector_air_kerma_ugy"], 4)
    if crop is not None:  # the output pixel now covers less of the detector
        (r0, r1, c0, c1), (h, w) = crop, output["size"]
        row["pixel_spacing_mm"] = output_pixel_spacing(geom.pitch_mm, (r1 - r0, c1 - c0), (h, w))
        row["pixel_spacing_iso_mm"] = row["pixel_spacing_mm"] / geom.magnification
    arrays = view_arrays(result, tuple(output["size"]), normalize=output["normalize"],
                         mask_resize=output["mask_resize"], mask_threshold=output["mask_threshold"],
                         layers=DATASET_LAYERS if row.get("layers") else (), crop=crop)
    blobs: dict[str, bytes] = {row["image"]: png16_bytes(arrays.image)}
    if output.get("for_processing", True) and arrays.for_processing is not None:
        row["image_for_processing"] = rel_fp = f"images_for_processing/{item['image_id']}.png"
        blobs[rel_fp] = png16_bytes(for_processing_png(arrays.for_processing))
    for s in structures:
        blobs[row[f"mask:{s}"]] = mask_png_bytes(arrays.masks[s])
    for k in kinds:  # every kind the spec draws has a mask; empty where the view has no such device
        blobs[row[f"mask:{k}"]] = mask_png_bytes(arrays.masks[k] if k in arrays.masks
                                                 else np.zeros(arrays.image.shape[:2], dtype=bool))
    if row.get("layers"):
        blobs[row["layers"]] = npz_bytes(arrays.layers)
    if output.get("dicom"):  # DICOM DX of the image (xraylab.render.dicom); its columns get SHA-256s like the others
        from xraylab.render.dicom import render_dx_blobs

        for suffix, data in render_dx_blobs(result, arrays, sim.config, str(row["subject_id"]), int(item["seed"]),
                                            spacing_mm=row.get("pixel_spacing_mm") if crop else None).items():
            row[f"dicom{suffix}"] = rel = f"dicom/{item['image_id']}{suffix}.dcm"
            blobs[rel] = data

    # Files first, the record last (with sha256:<column> of every file): see xraylab.data.writer.
    return (writer or DatasetWriter.open(out)).write_item(item["image_id"], blobs, row)


def run_chunk(
    context: dict[str, Any], items: list[dict[str, Any]], on_item: Callable[[dict], None] | None = None
) -> list[str]:
    """Render ``items`` (all of one CT) unless already complete; returns the image ids rendered.

    Runs with one torch thread and one BLAS/OpenMP thread (fixed threading keeps every executor's output
    byte-identical: float sums depend on the thread count); the numba ray march uses ``context["march_threads"]``.
    Stops early when the process that started the job has died.
    """
    import contextlib

    import torch

    from xraylab.physics import raymarch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # The compiled ray march sums each ray in one thread (output independent of the thread count), so it may use
    # the cores this worker's share allows (context "march_threads", set by generate from cores ÷ workers).
    march_threads, raymarch.DEFAULT_THREADS = raymarch.DEFAULT_THREADS, int(context.get("march_threads", 1))
    try:  # numpy's BLAS too: its thread count changes float sums in the spectrum/physics tables
        from threadpoolctl import threadpool_limits

        limits: Any = threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover
        limits = contextlib.nullcontext()
    done: list[str] = []
    parent = context.get("parent_pid")
    writer = DatasetWriter.open(context["out"])  # prepared by the parent; attaching neither checks nor cleans
    try:
        for item in items:
            if parent is not None and context.get("check_parent") and os.getppid() != parent:
                break  # the generating process was killed: leave the rest to the re-run
            if is_complete(writer, item):
                continue
            row = render_item(item, context, writer)
            done.append(item["image_id"])
            if on_item is not None:
                on_item(row)
    finally:
        torch.set_num_threads(threads)
        raymarch.DEFAULT_THREADS = march_threads
        if hasattr(limits, "restore_original_limits"):
            limits.restore_original_limits()
    return done


def init_pool_worker() -> None:
    """Pool initializer: one torch thread per worker process. The modules :func:`run_chunk` needs are imported
    here, without full garbage collections, and then frozen out of every later collection
    (:func:`xraylab.startup.freeze_imports`): no item has been rendered yet, so nothing but the libraries is
    frozen, and the worker's later full collections scan only its own objects."""
    from xraylab.startup import defer_full_gc, freeze_imports

    defer_full_gc()
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import xraylab.data.sources  # noqa: F401  (what run_chunk and render_item import on first use)
    import xraylab.physics.simulator  # noqa: F401
    import xraylab.render.scene  # noqa: F401
    import xraylab.render.view  # noqa: F401

    freeze_imports()
