"""Rectangular beam collimation with focal-spot penumbra.

The collimator blades sit at ``collimator_distance_mm`` (d_c) from the focal spot.
A blade edge casts a shadow on the detector blurred by the focal spot projected
through the edge: penumbra width = F · (SID − d_c) / d_c (same similar-triangle
rule as Ug = F·OID/SOD of REFERENCES.md §5, with the blade as the object). The
field profile across an edge is the CDF of the focal-spot distribution scaled by
(SID − d_c)/d_c (linear ramp for a uniform spot, erf for a Gaussian one),
integrated over the pixel aperture.

The field multiplies the primary (zero outside); the scatter model
(:mod:`xraylab.physics.scatter`) takes it too, so that scatter comes only from the
irradiated region and therefore scales with the irradiated field.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from xraylab.physics.focal_spot import FocalSpotConfig, spot_cdf


class CollimationConfig(BaseModel):
    """Rectangular collimated field, defined in the detector plane (mm).

    ``width_mm`` (along u / image columns) and ``height_mm`` (along v / image rows) are the field
    size at the detector; ``None`` opens the collimator to the full detector. ``offset_u_mm`` /
    ``offset_v_mm`` move the field centre relative to the central ray (+u: image right,
    +v: image down); the detector centre sits at ``geometry.principal_point_mm`` from the central ray.

    ``field``: ``auto`` (the default of every preset) additionally closes the blades along v to the detector rows
    whose rays cross the CT's whole superior–inferior extent, resolved per view against the CT by
    :func:`xraylab.physics.fov.auto_collimation` (called by :func:`xraylab.render.render_view`), so that no
    image shows the top or bottom edge of the CT volume; ``open``: the blades as given; ``extend``: the blades as
    given, and beyond the CT's S–I extent the body goes on as soft tissue of the thickness it has at the CT's edge
    (:func:`xraylab.physics.fov.extend_beyond_ct`): a film-like frame with neck/abdomen soft tissue instead of an
    unexposed band, the ``valid`` layer marking what the CT covers.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = True
    field: Literal["auto", "open", "extend"] = Field(
        "auto", description="auto: close the field along the body axis to where every ray crosses the CT's whole "
        "S-I extent (no CT-box edge in the image); open: only width_mm/height_mm; extend: open, and beyond the "
        "CT the body continues as soft tissue of its thickness at the CT's edge")
    width_mm: float | None = Field(None, gt=0, le=2000, description="field width at the detector along u, mm")
    height_mm: float | None = Field(None, gt=0, le=2000, description="field height at the detector along v, mm")
    offset_u_mm: float = Field(0.0, ge=-1000, le=1000, description="field centre offset along u, mm")
    offset_v_mm: float = Field(0.0, ge=-1000, le=1000, description="field centre offset along v, mm")
    collimator_distance_mm: float = Field(
        250.0, gt=0, description="focal spot – lower collimator blade distance, mm (typically 200–300)"
    )


def _edges(cfg: CollimationConfig, geometry) -> tuple[float, float, float, float]:
    """Field edges (u_lo, u_hi, v_lo, v_hi) in mm relative to the central ray, ±∞ when open."""
    inf = float("inf")
    if cfg.width_mm is None:
        u_lo, u_hi = -inf, inf
    else:
        u_lo, u_hi = cfg.offset_u_mm - cfg.width_mm / 2, cfg.offset_u_mm + cfg.width_mm / 2
    if cfg.height_mm is None:
        v_lo, v_hi = -inf, inf
    else:
        v_lo, v_hi = cfg.offset_v_mm - cfg.height_mm / 2, cfg.offset_v_mm + cfg.height_mm / 2
    return u_lo, u_hi, v_lo, v_hi


def penumbra_mm(cfg: CollimationConfig, geometry, focal_spot: FocalSpotConfig | None = None) -> tuple[float, float]:
    """Penumbra widths (along u, along v) at the detector, mm: F · (SID − d_c) / d_c."""
    fs = focal_spot if focal_spot is not None else FocalSpotConfig()
    fu, fv = fs.extent_uv_mm() if fs.enabled else (0.0, 0.0)
    s = max(geometry.sid_mm - cfg.collimator_distance_mm, 0.0) / cfg.collimator_distance_mm
    return fu * s, fv * s


def _profile(n: int, pitch: float, lo: float, hi: float, blur: float, shape: str, shift: float = 0.0,
             ss: int = 8) -> torch.Tensor:
    """1-D field profile over ``n`` pixels, pixel-aperture averaged with ``ss`` sub-samples.

    Pixel i covers [(i − n/2)·pitch + shift, (i + 1 − n/2)·pitch + shift] mm from the central ray.
    """
    x = (torch.arange(n * ss, dtype=torch.float64) + 0.5) / ss - n / 2  # in pixels, centred
    x = x * pitch + shift
    p = torch.ones_like(x)
    if lo != float("-inf"):
        p = p * spot_cdf(x - lo, blur, shape)
    if hi != float("inf"):
        p = p * (1.0 - spot_cdf(x - hi, blur, shape))
    return p.view(n, ss).mean(dim=1)


def collimation_field(
    cfg: CollimationConfig, geometry, device=None, focal_spot: FocalSpotConfig | None = None
) -> torch.Tensor:
    """Relative primary fluence of the collimated field, ``[1, 1, H, W]`` float32 in [0, 1].

    1 inside the field, 0 outside, with the focal-spot penumbra of :func:`penumbra_mm` at the
    edges (spot shape and size from ``focal_spot``, else the default
    :class:`FocalSpotConfig`). All ones when ``cfg.enabled`` is false or the field is open.
    """
    h, w = geometry.rows, geometry.cols
    if not cfg.enabled:
        return torch.ones(1, 1, h, w, device=device)
    fs = focal_spot if focal_spot is not None else FocalSpotConfig()
    pu, pv = penumbra_mm(cfg, geometry, fs)
    u_lo, u_hi, v_lo, v_hi = _edges(cfg, geometry)
    u0, v0 = geometry.principal_point_mm
    fu = _profile(w, geometry.pitch_mm, u_lo, u_hi, pu, fs.shape, u0)
    fv = _profile(h, geometry.pitch_mm, v_lo, v_hi, pv, fs.shape, v0)
    return torch.outer(fv, fu).to(device=device, dtype=torch.float32).view(1, 1, h, w)


def _clipped_extent(cfg: CollimationConfig, geometry) -> tuple[float, float]:
    """(width, height) of field ∩ detector in the detector plane, mm."""
    hd, wd = geometry.rows * geometry.pitch_mm, geometry.cols * geometry.pitch_mm
    if not cfg.enabled:
        return wd, hd
    u0, v0 = geometry.principal_point_mm
    u_lo, u_hi, v_lo, v_hi = _edges(cfg, geometry)
    du = max(0.0, min(u_hi, u0 + wd / 2) - max(u_lo, u0 - wd / 2))
    dv = max(0.0, min(v_hi, v0 + hd / 2) - max(v_lo, v0 - hd / 2))
    return du, dv


def irradiated_area_mm2(cfg: CollimationConfig, geometry) -> float:
    """Irradiated field area on the detector (field ∩ detector), mm²."""
    du, dv = _clipped_extent(cfg, geometry)
    return du * dv


def field_size_at_isocenter_mm(cfg: CollimationConfig, geometry) -> tuple[float, float]:
    """Irradiated field (width, height) demagnified to the isocenter plane (÷ SID/SOD), mm."""
    du, dv = _clipped_extent(cfg, geometry)
    m = geometry.sid_mm / geometry.sod_mm
    return du / m, dv / m
