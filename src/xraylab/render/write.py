"""``xraylab render``'s output folder: one view of a :class:`~xraylab.render.scene.Scene` written to disk.

:func:`write_view` renders a view of a scene and writes it (atomically: assembled under a temporary name beside
the output, then renamed); :func:`render_ct` does the same for an in-memory CT. Output: ``layers.npz`` (float32
``material/<m>`` g/cm², ``path/<s>`` mm and ``physics/<layer>``), ``image.png`` (16-bit for-presentation
radiograph), ``image_for_processing.png`` (16-bit −ln(I/I₀) / 8, :func:`~xraylab.render.view.for_processing_png`),
``masks/<structure>.png``, ``preview.png`` (image with mask outlines), ``metadata.json`` (resolved geometry,
physics, CT, field of view, versions), ``.xraylab/job.json`` (the marker of a folder xraylab made) and, with
``dicom``, ``image.dcm`` / ``image_for_processing.dcm`` (:mod:`xraylab.render.dicom`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Literal, Sequence

import torch

from xraylab.errors import ConfigError
from xraylab.io.ct import CTVolume
from xraylab.io.ownership import check_not_inside_inputs, check_replaceable, write_marker
from xraylab.overrides import Override
from xraylab.physics.geometry import Geometry
from xraylab.render.scene import Scene, build_scene
from xraylab.render.view import FOR_PROCESSING_SCALE, RenderResult, for_processing_png, view_arrays
from xraylab.versions import package_versions


def check_render_out(out: Path, overwrite: bool, inputs: Sequence[str | os.PathLike | None] = ()) -> None:
    """Refuse an ``out`` that is a file, is or lies inside one of ``inputs``, or is a non-empty folder — unless
    ``overwrite`` and xraylab made it (:func:`xraylab.io.ownership.check_replaceable`)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: --out is a file, not a folder; choose another --out")
    check_not_inside_inputs(out, inputs)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out}: output folder exists and is not empty; choose another --out or pass --overwrite")
        check_replaceable(out, inputs)


def _staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial-{os.getpid()}"


def write_view(
    scene: Scene,
    geometry: Geometry,
    out: str | os.PathLike | None,
    preset: str = "chest_pa",
    overrides: Sequence[Override] = (),
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    dicom: bool = False,
    inputs: Sequence[str | os.PathLike | None] = (),
    devices: Sequence[Any] = (),
) -> RenderResult:
    """Render ``scene`` at ``geometry`` with preset ``preset`` (+ physics ``overrides``) and write it to ``out``
    (None: only render). ``inputs``: the files the render read (CT, labels, table): ``out`` may not be or lie
    inside one, and ``overwrite`` replaces only a folder an earlier render made (:func:`check_render_out`).
    ``dicom``: also write the DICOM DX files; ``devices``: placed :mod:`xraylab.devices` (masks ``<kind>.png``,
    their parameters in ``metadata.json``). A failed render leaves no output folder.
    """
    from xraylab.io.images import mask_png_bytes, npz_bytes, png16_bytes
    from xraylab.physics.presets import resolve_physics

    ct, projector = scene.ct, scene.projector
    structures, renderer = scene.structures, projector.renderer
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        check_render_out(out_path, overwrite, inputs)
    physics = resolve_physics(preset, overrides)
    result = scene.render(geometry, physics, seed=seed, progress=progress, devices=devices)
    if out_path is None:
        return result
    result.out = out_path
    arrays = view_arrays(result, layers=None)

    stage = _staging_dir(out_path)
    shutil.rmtree(stage, ignore_errors=True)
    try:
        (stage / "masks").mkdir(parents=True)
        (stage / "layers.npz").write_bytes(npz_bytes(arrays.layers))
        (stage / "image.png").write_bytes(png16_bytes(arrays.image))
        if arrays.for_processing is not None:  # −ln(I/I₀) / FOR_PROCESSING_SCALE, 16 bit
            (stage / "image_for_processing.png").write_bytes(png16_bytes(for_processing_png(arrays.for_processing)))
        if dicom:  # DICOM DX beside the PNG (xraylab.render.dicom)
            from xraylab.render.dicom import render_dx_blobs

            for suffix, data in render_dx_blobs(result, arrays, physics, ct.name, seed, preset=preset,
                                                renderer=renderer).items():
                (stage / f"image{suffix}.dcm").write_bytes(data)
        for s, m in arrays.masks.items():
            (stage / "masks" / f"{s}.png").write_bytes(mask_png_bytes(m))
        from xraylab.viz import overlay_png

        overlay_png(stage / "preview.png", arrays.image, list(arrays.masks.values()), legend=list(arrays.masks),
                    caption=f"{ct.name}  {geometry.view}  α={geometry.rotation_deg:g}°  {preset}")
        meta = {
            "ct": {"name": ct.name, "source": ct.source, "shape": list(ct.shape), "spacing_mm": list(ct.spacing),
                   **({"slice_gaps": ct.meta["slice_gaps"]} if ct.meta.get("slice_gaps") else {})},
            "geometry": geometry.model_dump(mode="json"),
            "preset": preset,
            "overrides": [o if isinstance(o, str) else f"{o[0]}={json.dumps(o[1])}" for o in overrides],
            "renderer": renderer,
            "supersample": projector.supersample,
            "rays_per_pixel_axis": projector.supersample_factor(geometry),
            "structures": structures,
            "seed": seed,
            "field": result.field,
            "dose": result.dose,
            **({"devices": [{"kind": d.kind, **d.params} for d in devices]} if devices else {}),
            "for_processing_png_scale": FOR_PROCESSING_SCALE,
            "seconds": result.seconds,
            "versions": package_versions(),
            "physics": physics.model_dump(mode="json"),
        }
        (stage / "metadata.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        write_marker(stage, "render", {"ct": ct.name, "preset": preset})
        if out_path.exists():
            shutil.rmtree(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage, out_path)
    except OSError as exc:
        if exc.filename is None:  # a failed write() (disk full, quota) names no file: name the output folder
            raise OSError(exc.errno, exc.strerror or str(exc), str(out_path)) from exc
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return result


def render_ct(
    ct: CTVolume,
    geometry: Geometry,
    out: str | os.PathLike | None,
    structures: Sequence[str] = (),
    preset: str = "chest_pa",
    overrides: Sequence[Override] = (),
    renderer: Literal["siddon", "trilinear"] = "trilinear",
    seed: int = 0,
    device: str | torch.device = "cpu",
    overwrite: bool = False,
    progress: bool = True,
    dicom: bool = False,
    inputs: Sequence[str | os.PathLike | None] = (),
) -> RenderResult:
    """Render an in-memory ``ct`` for ``structures`` (a scene built for this one view, :func:`build_scene` with
    ``renderer`` on ``device``, 500 samples per ray) and write it as :func:`write_view` does. For several views of
    one CT build the scene once and call :func:`write_view`."""
    if out is not None:
        check_render_out(Path(out), overwrite, inputs)  # before the projector is built
    scene = build_scene(ct, structures, renderer=renderer, n_points=500, device=device)
    return write_view(scene, geometry, out, preset=preset, overrides=overrides, seed=seed, overwrite=overwrite,
                      progress=progress, dicom=dicom, inputs=inputs)
