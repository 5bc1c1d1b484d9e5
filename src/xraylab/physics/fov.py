"""Which detector pixels see the whole body along the body axis: the ``valid`` layer and the auto field.

A CT covers a finite stretch of the body along the superior–inferior (S–I) axis. A ray that enters or leaves
the CT box through its top or bottom face crosses only part of the body that a real patient would have there
(neck, shoulders, abdomen are missing), and the image shows the box's edge. :func:`valid_rays` marks, per pixel,
the rays that do *not*: the part of the ray inside the box's cross-section (the two in-plane axes, a slab
intersection) lies entirely between the top and bottom faces — or the ray misses the cross-section entirely
(it passes beside the body). It is computed from the ray geometry and the CT bounding box (voxel edges), with
the pose of the geometry applied, exactly like :class:`~xraylab.physics.projector.Projector` places the CT.

:func:`auto_field_rows` turns the mask into the row range whose every pixel is valid, and
:func:`auto_collimation` into a :class:`~xraylab.physics.collimation.CollimationConfig` whose blades close the
beam to that range, pulled in by the focal-spot penumbra so that no primary reaches an invalid row
(``collimation.field: auto``, the default of every preset).
"""

from __future__ import annotations

import numpy as np
import torch

from xraylab.io.ct import CTVolume
from xraylab.physics.collimation import CollimationConfig, penumbra_mm
from xraylab.physics.focal_spot import FocalSpotConfig
from xraylab.physics.geometry import Geometry


def body_axis(ct: CTVolume) -> int:
    """Index axis (0, 1, 2) of the CT whose direction is closest to the patient's S–I (LPS z) axis."""
    return int(np.argmax(np.abs(np.asarray(ct.direction, dtype=np.float64)[2, :])))


def valid_rays(ct: CTVolume, geometry: Geometry) -> torch.Tensor:
    """Bool ``[rows, cols]`` (CPU): True where the ray source → pixel crosses the CT's full S–I extent.

    The box is the volume's voxel edges (index −0.5 … n − 0.5 along each axis). Only the segment of the ray
    between source and detector counts.
    """
    iso = torch.tensor(geometry.isocenter_mm, dtype=torch.float64) if geometry.isocenter_mm else ct.center_mm
    s_w = geometry.source_position()
    t_w = geometry.pixel_positions("cpu")
    inv = torch.linalg.inv(ct.affine)
    s_v = geometry.world_to_ct(s_w[None], iso) @ inv[:3, :3].T + inv[:3, 3]  # [1, 3] voxel index coordinates
    t_v = geometry.world_to_ct(t_w, iso) @ inv[:3, :3].T + inv[:3, 3]  # [N, 3]
    d = t_v - s_v
    lo = torch.full((3,), -0.5, dtype=torch.float64)
    hi = torch.tensor(ct.shape, dtype=torch.float64) - 0.5
    tiny = 1e-12
    safe = torch.where(d.abs() < tiny, torch.full_like(d, tiny), d)
    t0 = (lo - s_v) / safe
    t1 = (hi - s_v) / safe
    enter, leave = torch.minimum(t0, t1), torch.maximum(t0, t1)
    # A ray parallel to an axis: inside that slab for all t, or never.
    parallel = d.abs() < tiny
    inside = (s_v >= lo) & (s_v <= hi)
    enter = torch.where(parallel, torch.where(inside, -torch.inf, torch.inf), enter)
    leave = torch.where(parallel, torch.where(inside, torch.inf, -torch.inf), leave)
    z = body_axis(ct)
    plane = [a for a in range(3) if a != z]
    a_in = torch.maximum(enter[:, plane].max(dim=1).values, torch.zeros(()))  # inside the cross-section …
    a_out = torch.minimum(leave[:, plane].min(dim=1).values, torch.ones(()))  # … between source and detector
    crosses = a_in < a_out
    within = (enter[:, z] <= a_in) & (leave[:, z] >= a_out)
    return (~crosses | within).view(geometry.rows, geometry.cols)


def auto_field_rows(valid: torch.Tensor) -> tuple[int, int] | None:
    """Longest run of rows ``(r0, r1)`` (end exclusive) whose every pixel is valid; None when no row is."""
    ok = valid.all(dim=1).tolist()
    best, start = (0, 0), None
    for i, v in enumerate(ok + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best if best[1] > best[0] else None


def auto_collimation(
    cfg: CollimationConfig, geometry: Geometry, valid: torch.Tensor, focal_spot: FocalSpotConfig | None = None
) -> tuple[CollimationConfig, dict]:
    """The collimation of one view for ``cfg.field == "auto"``: blades closed along v to the valid rows.

    The edges sit one penumbra width (:func:`~xraylab.physics.collimation.penumbra_mm`) inside the valid
    rows, so the primary is (almost) zero on every invalid row; a field given by ``height_mm`` is intersected
    with it. Returns ``(config, info)``: ``info`` records what was done (for the manifest / metadata):
    ``field`` (``auto``/``open``), ``valid_rows`` ``[r0, r1)``, ``field_v_mm`` (edges along v, mm from the
    central ray), ``clipped`` (whether the CT is shorter than the detector along the body axis).
    """
    if cfg.field != "auto" or not cfg.enabled:
        return cfg, {"field": cfg.field if cfg.enabled else "disabled", "clipped": False}
    rows = auto_field_rows(valid)
    n = geometry.rows
    if rows is None:
        rows = (n // 2, n // 2)
    if rows == (0, n):
        return cfg, {"field": "auto", "clipped": False, "valid_rows": [0, n]}
    p = geometry.pitch_mm
    v0 = geometry.principal_point_mm[1]
    _, pen_v = penumbra_mm(cfg, geometry, focal_spot)
    # Pixel i covers [(i − n/2)·p + v0, (i + 1 − n/2)·p + v0] (collimation._profile).
    v_lo = (rows[0] - n / 2) * p + v0 + pen_v
    v_hi = (rows[1] - n / 2) * p + v0 - pen_v
    if cfg.height_mm is not None:
        v_lo = max(v_lo, cfg.offset_v_mm - cfg.height_mm / 2)
        v_hi = min(v_hi, cfg.offset_v_mm + cfg.height_mm / 2)
    if v_hi <= v_lo:
        v_hi = v_lo = 0.5 * (v_lo + v_hi)
    height = max(v_hi - v_lo, 1e-3)
    new = cfg.model_copy(update={"height_mm": height, "offset_v_mm": 0.5 * (v_lo + v_hi)})
    info = {"field": "auto", "clipped": True, "valid_rows": [int(rows[0]), int(rows[1])],
            "field_v_mm": [float(v_lo), float(v_hi)]}
    return new, info


def extend_beyond_ct(materials: dict[str, torch.Tensor], valid: torch.Tensor) -> dict:
    """Fill the rays that leave the CT through its top or bottom (``~valid``) with the body the CT does not hold,
    in place: soft tissue whose mass thickness (g/cm²) equals the total non-air mass thickness of the nearest
    valid pixel in the same detector column, and no lung, fat, bone, metal or contrast (``collimation.field:
    extend``). The neck and upper abdomen a real film shows beyond a chest CT's extent are mostly soft tissue; this
    keeps the body's outline and thickness continuous at the CT's edge, so no frame shows an unexposed or empty
    band there. Air is kept as traced. ``materials``: name → ``[1, 1, H, W]``; ``valid``: bool ``[H, W]``.
    Returns ``{"extended_pixels": n}``."""
    inv = ~valid.bool().cpu()
    n = int(inv.sum())
    if n == 0 or bool(inv.all()):
        return {"extended_pixels": 0}
    h, w = inv.shape
    # nearest valid row per pixel, column by column
    rows = torch.arange(h)
    src = torch.zeros(h, w, dtype=torch.long)
    for c in range(w):
        ok = torch.nonzero(~inv[:, c]).flatten()
        if ok.numel() == 0:
            src[:, c] = -1
            continue
        pos = torch.searchsorted(ok, rows).clamp(max=ok.numel() - 1)
        below = ok[pos]
        above = ok[(pos - 1).clamp(min=0)]
        src[:, c] = torch.where((rows - above).abs() <= (below - rows).abs(), above, below)
    fill = inv & (src >= 0)
    cols = torch.arange(w).expand(h, w)
    ref = next(iter(materials.values()))
    total = torch.zeros_like(ref[0, 0])
    for k, v in materials.items():
        if k != "air":
            total = total + v[0, 0]
    # the body's thickness near the edge without the CT's texture (ribs, clavicles): a normalised Gaussian average
    # over valid pixels (σ = 2 % of the detector's larger side), then carried outwards
    total = _smooth_valid(total, ~inv.to(total.device), sigma_px=max(1.0, 0.02 * max(h, w)))
    soft = total[src.clamp(min=0).to(total.device), cols.to(total.device)]
    f = fill.to(ref.device)
    for k in list(materials):
        if k == "air":
            continue
        v = materials[k].clone()
        v[0, 0][f] = soft[f] if k == "soft_tissue" else 0.0
        materials[k] = v
    if "soft_tissue" not in materials:
        st = torch.zeros_like(ref)
        st[0, 0][f] = soft[f]
        materials["soft_tissue"] = st
    return {"extended_pixels": int(fill.sum())}


def _smooth_valid(x: torch.Tensor, valid: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Gaussian average of ``x`` ``[H, W]`` over the ``valid`` pixels only (normalised convolution)."""
    import torch.nn.functional as F

    r = int(3 * sigma_px)
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma_px) ** 2)
    k = k / k.sum()
    m = valid.to(x.dtype)

    def blur(a: torch.Tensor) -> torch.Tensor:
        a = F.conv2d(a[None, None], k.view(1, 1, 1, -1), padding=(0, r))
        return F.conv2d(a, k.view(1, 1, -1, 1), padding=(r, 0))[0, 0]

    return blur(x * m) / blur(m).clamp_min(1e-6)


def field_box(field: torch.Tensor, level: float = 0.98) -> tuple[int, int, int, int] | None:
    """Bounding box ``(r0, r1, c0, c1)`` (end exclusive) of the pixels where the field ``[..., H, W]`` ≥ ``level``
    (the fully exposed part of the collimated field); None when there is none."""
    f = field.reshape(field.shape[-2:]) >= level
    rows = torch.nonzero(f.any(dim=1)).flatten()
    cols = torch.nonzero(f.any(dim=0)).flatten()
    if rows.numel() == 0 or cols.numel() == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
