"""One view: ray tracing + physics (:func:`render_view`) and the arrays that get written (:func:`view_arrays`).

:func:`render_view` — projector + posed geometry + resolved physics config → projection and physics layers.
:func:`view_arrays` — the one conversion of a rendered view into the arrays that get written (image in [0, 1],
masks, layers), resized to an output size. :class:`xraylab.render.scene.Scene` calls the first for the CLI, the
generate workers and the Python API alike. Preset names and overrides are resolved only in
:mod:`xraylab.physics.presets`; the functions here take the resolved objects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from xraylab.errors import ConfigError
from xraylab.physics.config import PhysicsConfig
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projection, Projector

if TYPE_CHECKING:
    from xraylab.devices import Device

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
    ``field``: how the field of view was restricted (:func:`xraylab.physics.fov.auto_collimation`'s info);
    ``dose``: entrance surface air kerma, dose–area product, detector air kerma
    (:func:`xraylab.physics.dose.dose_report`).
    """

    projection: Projection
    layers: dict[str, torch.Tensor]
    seconds: dict[str, float] = field(default_factory=dict)
    out: Path | None = None
    dose: dict = field(default_factory=dict)
    field: dict = field(default_factory=dict)  # (declared last: it shadows dataclasses.field in this body)


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
    devices: Sequence[Device] = (),
    device_supersample: int = 4,
) -> RenderResult:
    """Ray trace ``projector`` at the posed ``geometry`` and run the physics chain ``physics`` on it.

    ``seed`` seeds the noise generator (same inputs + seed → the same layers, bit for bit, on one machine);
    ``simulator``: an :class:`~xraylab.physics.simulator.XRaySimulator` built for ``physics`` to reuse (its
    cached layers), else one is made. Tensors live on ``projector.device``. With ``collimation.field: auto``
    (every preset) the blades close along the body axis to the rows whose rays cross the CT's whole S–I extent
    (:mod:`xraylab.physics.fov`); ``result.field`` records it and ``layers["valid"]`` marks those rays.
    ``devices`` (:mod:`xraylab.devices`, placed in this CT's coordinates) are traced exactly, with
    ``device_supersample²`` sub-rays per pixel, and added to the projection: their materials as extra channels,
    their path lengths as ``paths[<kind>]`` (so masks and ``layers.npz`` get ``path/<kind>``).
    """
    from xraylab.devices.trace import add_devices
    from xraylab.physics.dose import dose_report
    from xraylab.physics.fov import auto_collimation, extend_beyond_ct, valid_rays
    from xraylab.physics.simulator import XRaySimulator

    if physics.materials != projector.material_config:
        raise ConfigError("physics.materials differs from the materials the scene's volumes were built with; build "
                          "the scene for them: load_scene(..., materials=physics.materials)")
    if simulator is None:
        simulator = XRaySimulator(physics, device=projector.device)
    elif simulator.config != physics:
        raise ValueError("render_view: the simulator was built for another physics config")
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    projection = projector.project(geometry, progress=progress)
    valid = valid_rays(projector.ct, geometry)
    extend = physics.collimation.enabled and physics.collimation.field == "extend"
    extended = extend_beyond_ct(projection.materials, valid) if extend else {}  # the body beyond the CT
    iso = torch.tensor(geometry.isocenter_mm, dtype=torch.float64) if geometry.isocenter_mm else projector.ct.center_mm
    add_devices(projection, devices, geometry, iso, device_supersample)  # devices lie on top of either
    times["ray_tracing"] = time.perf_counter() - t0

    def rerender(g: Geometry) -> dict:
        # Exact focal-spot mode: the posed geometry, with the source point the simulator asks for.
        shifted = geometry.model_copy(update={"source_offset_mm": g.source_offset_mm})
        p = projector.project(shifted)
        if extend:
            extend_beyond_ct(p.materials, valid)
        add_devices(p, devices, shifted, iso, device_supersample)
        return p.materials

    t0 = time.perf_counter()
    det_geom = detector_geometry(geometry)
    collimation, field_info = auto_collimation(physics.collimation, det_geom, valid, physics.focal_spot)
    field_info.update(extended)
    gen = torch.Generator(device=projector.device).manual_seed(int(seed))
    layers = simulator.simulate(projection.materials, det_geom, generator=gen, render=rerender,
                                collimation=collimation)
    layers["for_processing"] = -torch.log(layers["normalized"].clamp_min(1e-6))
    layers["valid"] = valid.to(device=projector.device, dtype=torch.float32).view(1, 1, *valid.shape)
    times["physics"] = time.perf_counter() - t0
    dose = dose_report(projector.ct, geometry, physics, layers, simulator.info, density=projector.volumes.density)
    return RenderResult(projection, layers, times, field=field_info, dose=dose)


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
    (the cropped image stretched to [0, 1] by :func:`xraylab.io.preprocess.prepare_image`, as imported real
    images are); ``mask_resize``: ``nearest`` or ``bilinear`` (then thresholded at
    ``mask_threshold``); ``layers``: physics layer names kept beside ``material/<m>`` and ``path/<s>``
    (``None``: every layer, prefixed ``physics/``; ``()``: none, and no material/path layers either).
    """
    from xraylab.io.images import resize_pad

    r0, r1, c0, c1 = crop_box(result, crop, crop_to_field)

    def cut(t: torch.Tensor) -> torch.Tensor:
        return t[0, 0, r0:r1, c0:c1]

    from xraylab.io.preprocess import prepare_image

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
