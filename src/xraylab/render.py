"""Where an X-ray is rendered: the one render path of ``xraylab render``, ``xraylab generate`` and the Python API.

:func:`render_view` — projector + posed geometry + resolved physics config → projection and physics layers.
:func:`view_arrays` — the one conversion of a rendered view into the arrays that get written (image in [0, 1],
masks, layers), resized to an output size. :func:`render_ct` wraps both for one CT into a folder (the
``xraylab render`` output); :mod:`xraylab.data.worker` calls the same two functions for every dataset item.
Preset names and overrides are resolved only in :mod:`xraylab.physics.presets` (``resolve_preset``, or its two
halves ``resolve_geometry`` / ``resolve_physics``); the functions here take the resolved objects.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from xraylab.errors import ConfigError
from xraylab.io.ct import CTVolume
from xraylab.io.ownership import write_marker
from xraylab.io.structures import expand_structure_list
from xraylab.overrides import Override
from xraylab.physics.config import PhysicsConfig
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projection, Projector
from xraylab.versions import package_versions

# Physics layers kept beside the material/path line integrals in a dataset item's ``layers.npz``.
DATASET_LAYERS = ("primary", "scatter", "noise_free", "normalized", "for_processing", "valid", "field")
# The for-processing image −ln(I/I₀) is stored as a 16-bit PNG scaled by this line integral (pixel 1.0 = 8).
FOR_PROCESSING_SCALE = 8.0


@dataclass
class RenderResult:
    """One rendered view: the projection (line integrals, path lengths), the simulator layers, timings.

    ``layers``: name → ``[1, 1, H, W]`` float32: the simulator's (``image`` — the *for-presentation* image in
    [0, 1] —, ``primary``, ``scatter``, ``noise_free``, ``normalized``, ``signal``, ``field``; see
    :mod:`xraylab.physics.simulator`) plus ``for_processing`` (−ln of the flat-fielded image, the detector's
    *for-processing* image: no enhancement, no LUT; ≥ 0, attenuation bright) and ``valid`` (1 where the ray
    crosses the CT's whole superior–inferior extent, :func:`xraylab.physics.fov.valid_rays`);
    ``seconds``: stage → wall seconds; ``out``: the folder written by :func:`render_ct`, if any;
    ``field``: how the field of view was restricted (:func:`xraylab.physics.fov.auto_collimation`'s info).
    """

    projection: Projection
    layers: dict[str, torch.Tensor]
    seconds: dict[str, float] = field(default_factory=dict)
    out: Path | None = None
    field: dict = field(default_factory=dict)


@dataclass
class ViewArrays:
    """What gets written for one view, at the output size: ``image`` float32 ``[H, W]`` in [0, 1] (the
    for-presentation image), ``masks`` structure → bool ``[H, W]``, ``layers`` name → float32 ``[H, W]`` (g/cm²,
    mm, relative signal), ``for_processing`` float32 ``[H, W]``: −ln(I/I₀) (0 in the padding), or None."""

    image: np.ndarray
    masks: dict[str, np.ndarray]
    layers: dict[str, np.ndarray]
    for_processing: np.ndarray | None = None


def detector_geometry(geometry: Geometry) -> Geometry:
    """``geometry`` without the patient pose (rotation, tilt, translation, isocenter).

    The physics chain depends only on source and detector: the pose is already in the line integrals, and a
    pose-free geometry lets the simulator reuse its cached spectrum / grid / flood layers across poses.
    """
    return geometry.model_copy(update={"rotation_deg": 0.0, "tilt_deg": 0.0, "translation_mm": (0.0, 0.0, 0.0),
                                       "isocenter_mm": None})


def render_view(
    projector: Projector,
    geometry: Geometry,
    physics: PhysicsConfig,
    seed: int = 0,
    simulator=None,
    progress: bool = False,
) -> RenderResult:
    """Ray trace ``projector`` at the posed ``geometry`` and run the physics chain ``physics`` on it.

    ``seed`` seeds the noise generator (same inputs + seed → the same layers, bit for bit, on one machine);
    ``simulator``: an :class:`~xraylab.physics.simulator.XRaySimulator` built for ``physics`` to reuse (its
    cached layers), else one is made. Tensors live on ``projector.device``. With ``collimation.field: auto``
    (every preset) the blades close along the body axis to the rows whose rays cross the CT's whole S–I extent
    (:mod:`xraylab.physics.fov`); ``result.field`` records it and ``layers["valid"]`` marks those rays.
    """
    from xraylab.physics.fov import auto_collimation, valid_rays
    from xraylab.physics.simulator import XRaySimulator

    if simulator is None:
        simulator = XRaySimulator(physics, device=projector.device)
    elif simulator.config != physics:
        raise ValueError("render_view: the simulator was built for another physics config")
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    projection = projector.project(geometry, progress=progress)
    times["ray_tracing"] = time.perf_counter() - t0

    def rerender(g: Geometry) -> dict:
        # Exact focal-spot mode: the posed geometry, with the source point the simulator asks for.
        return projector.project(geometry.model_copy(update={"source_offset_mm": g.source_offset_mm})).materials

    t0 = time.perf_counter()
    valid = valid_rays(projector.ct, geometry)
    det_geom = detector_geometry(geometry)
    collimation, field_info = auto_collimation(physics.collimation, det_geom, valid, physics.focal_spot)
    gen = torch.Generator(device=projector.device).manual_seed(int(seed))
    layers = simulator.simulate(projection.materials, det_geom, generator=gen, render=rerender,
                                collimation=collimation)
    layers["for_processing"] = -torch.log(layers["normalized"].clamp_min(1e-6))
    layers["valid"] = valid.to(device=projector.device, dtype=torch.float32).view(1, 1, *valid.shape)
    times["physics"] = time.perf_counter() - t0
    return RenderResult(projection, layers, times, field=field_info)


def framing_box(
    mask: np.ndarray | torch.Tensor,
    margins: dict[str, tuple[float, float]],
    rng: np.random.Generator,
) -> tuple[int, int, int, int] | None:
    """A crop box ``(row0, row1, col0, col1)`` (pixels, end exclusive) framing the True pixels of ``mask``.

    The box is the mask's bounding box widened on each side (``top``, ``bottom``, ``left``, ``right``) by a
    fraction of the box's height (top/bottom) or width (left/right) drawn uniformly from that side's
    ``(low, high)`` range, then clipped to the detector. Real chest radiographs are collimated to the thorax:
    in the 42 shared real images the lungs span 0.84 ± 0.10 of the width and 0.80 ± 0.11 of the height, with
    margins of about 0.09 (sides), 0.09 (top) and 0.16 (bottom) of the lung box. ``None`` for an empty mask.
    """
    m = mask.cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    rows, cols = np.nonzero(m)
    if rows.size == 0:
        return None
    r0, r1, c0, c1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    h, w = r1 - r0, c1 - c0
    draw = {side: float(rng.uniform(*margins.get(side, (0.0, 0.0)))) for side in ("top", "bottom", "left", "right")}
    r0 = max(0, int(round(r0 - draw["top"] * h)))
    r1 = min(m.shape[0], int(round(r1 + draw["bottom"] * h)))
    c0 = max(0, int(round(c0 - draw["left"] * w)))
    c1 = min(m.shape[1], int(round(c1 + draw["right"] * w)))
    return r0, r1, c0, c1


def view_arrays(
    result: RenderResult,
    size: tuple[int, int] | None = None,
    normalize: str = "none",
    mask_resize: str = "nearest",
    mask_threshold: float = 0.5,
    layers: Sequence[str] | None = DATASET_LAYERS,
    crop: tuple[int, int, int, int] | None = None,
    crop_to_field: bool = False,
) -> ViewArrays:
    """The arrays written for ``result``, cropped to ``crop`` (see :func:`framing_box`; None: the whole
    detector) and resized (aspect kept, zero padding) to ``size`` = (rows, cols).

    ``crop_to_field``: also cut the crop down to the fully exposed collimated field
    (:func:`xraylab.physics.fov.field_box` of ``layers["field"]``), so that no unexposed band is written.

    ``normalize``: ``none`` (the simulator's display image, clipped to [0, 1]), ``minmax`` or ``percentile``
    (the cropped image stretched to [0, 1] by :func:`xraylab.data.preprocess.prepare_image`, as imported real
    images are); ``mask_resize``: ``nearest`` or ``bilinear`` (then thresholded at
    ``mask_threshold``); ``layers``: physics layer names kept beside ``material/<m>`` and ``path/<s>``
    (``None``: every layer, prefixed ``physics/``; ``()``: none, and no material/path layers either).
    """
    from xraylab.io.images import resize_pad

    r0, r1, c0, c1 = crop_box(result, crop, crop_to_field)

    def cut(t: torch.Tensor) -> torch.Tensor:
        return t[0, 0, r0:r1, c0:c1]

    from xraylab.data.preprocess import prepare_image

    size = size or (r1 - r0, c1 - c0)
    if normalize not in ("none", "minmax", "percentile"):
        raise ConfigError(f"normalize must be 'none', 'minmax' or 'percentile', not {normalize!r}")
    # The one preprocessing of real and synthetic radiographs (the importer calls the same function).
    image = prepare_image(cut(result.layers["image"]).float(), size, normalize)
    masks: dict[str, np.ndarray] = {}
    for s, m in result.projection.masks().items():
        if mask_resize == "nearest":
            mr = resize_pad(cut(m).float(), size, mode="nearest") > 0.5
        else:
            mr = resize_pad(cut(m).float(), size, mode="bilinear") >= mask_threshold
        masks[s] = mr.cpu().numpy()
    arrays: dict[str, torch.Tensor] = {}
    if layers is None or len(layers):
        arrays = {k: cut(v) for k, v in result.projection.layers().items()}
        if layers is None:
            arrays.update({f"physics/{k}": cut(v) for k, v in result.layers.items()})
        else:
            arrays.update({k: cut(result.layers[k]) for k in layers})
    out_layers = {k: resize_pad(v.float(), size).cpu().numpy() for k, v in arrays.items()}
    fp = None
    if "for_processing" in result.layers:
        fp = resize_pad(cut(result.layers["for_processing"]).float(), size).cpu().numpy()
    return ViewArrays(image.cpu().numpy(), masks, out_layers, fp)


def crop_box(
    result: RenderResult, crop: tuple[int, int, int, int] | None = None, crop_to_field: bool = False
) -> tuple[int, int, int, int]:
    """The detector box ``(r0, r1, c0, c1)`` :func:`view_arrays` cuts out: ``crop`` (None: the whole detector),
    intersected with the fully exposed field when ``crop_to_field`` (unchanged when they do not overlap)."""
    from xraylab.physics.fov import field_box

    h, w = result.layers["image"].shape[-2:]
    box = crop or (0, h, 0, w)
    if crop_to_field and "field" in result.layers:
        fb = field_box(result.layers["field"][0, 0])
        if fb is not None:
            cut = (max(box[0], fb[0]), min(box[1], fb[1]), max(box[2], fb[2]), min(box[3], fb[3]))
            if cut[1] > cut[0] and cut[3] > cut[2]:
                box = cut
    return box


def for_processing_png(arr: np.ndarray) -> np.ndarray:
    """The for-processing image ``−ln(I/I₀)`` ``[H, W]`` scaled to [0, 1] for a 16-bit PNG: value / 8, clipped
    (:data:`FOR_PROCESSING_SCALE`; 1/65535 of the PNG is 1.2·10⁻⁴ of line integral)."""
    return np.clip(np.asarray(arr, dtype=np.float32) / FOR_PROCESSING_SCALE, 0.0, 1.0)


def check_render_out(out: Path, overwrite: bool, inputs: Sequence[str | os.PathLike | None] = ()) -> None:
    """Refuse an ``out`` that is a file, is or lies inside one of ``inputs``, or is a non-empty folder — unless
    ``overwrite`` and xraylab made it (:func:`xraylab.io.ownership.check_replaceable`)."""
    from xraylab.io.ownership import check_not_inside_inputs, check_replaceable

    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: --out is a file, not a folder; choose another --out")
    check_not_inside_inputs(out, inputs)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out}: output folder exists and is not empty; choose another --out or pass --overwrite")
        check_replaceable(out, inputs)


def _staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial-{os.getpid()}"


def render_ct(
    ct: CTVolume,
    geometry: Geometry,
    out: str | os.PathLike | None,
    structures: Sequence[str] = (),
    preset: str = "chest_pa",
    overrides: Sequence[Override] = (),
    renderer: str = "trilinear",
    seed: int = 0,
    device: str | torch.device = "cpu",
    overwrite: bool = False,
    progress: bool = True,
    dicom: bool = False,
    projector: Projector | None = None,
    inputs: Sequence[str | os.PathLike | None] = (),
) -> RenderResult:
    """Project ``ct`` with ``geometry``, simulate preset ``preset`` (+ ``overrides``) and write it to ``out``.

    ``projector``: a :class:`~xraylab.physics.projector.Projector` of ``ct`` for ``structures`` to reuse (several
    views of one CT; ``renderer`` and ``device`` are then its own), else one is built.

    ``inputs``: the files the render reads (CT, labels, table): ``out`` may not be or lie inside one, and
    ``overwrite`` replaces only a folder an earlier render made (:func:`check_render_out`).

    ``dicom``: also write ``image.dcm`` (DICOM DX For Presentation, :mod:`xraylab.io.dicom_out`) and, when the
    render has a ``for_processing`` layer, ``image_for_processing.dcm``.

    Output (when ``out`` is given): ``layers.npz`` (float32 ``material/<m>`` g/cm², ``path/<s>`` mm and
    ``physics/<layer>``), ``image.png`` (16-bit for-presentation radiograph), ``image_for_processing.png``
    (16-bit −ln(I/I₀) / 8, see :func:`for_processing_png`), ``masks/<structure>.png``, ``preview.png`` (image
    with mask outlines) and ``metadata.json`` (resolved geometry, physics, CT, field of view, versions). The
    folder is assembled
    under a temporary name beside ``out`` and renamed at the end: a failed render leaves no output folder.
    """
    from xraylab.io.images import mask_png_bytes, npz_bytes, png16_bytes
    from xraylab.physics.presets import resolve_physics

    structures = expand_structure_list(structures)
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        check_render_out(out_path, overwrite, inputs)
    physics = resolve_physics(preset, overrides)
    t0 = time.perf_counter()
    if projector is None:
        projector = Projector(ct, structures=structures, renderer=renderer, device=device)  # type: ignore[arg-type]
    renderer = projector.renderer
    build = time.perf_counter() - t0
    result = render_view(projector, geometry, physics, seed=seed, progress=progress)
    result.seconds["ray_tracing"] += build
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
        if dicom:  # DICOM DX beside the PNG (xraylab.io.dicom_out)
            from xraylab.io.dicom_out import render_dx_blobs

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
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return result
