"""Focal-spot unsharpness (issue 3 item 4) against REFERENCES.md §5; fast kernel vs exact multi-source mode."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from xraylab.physics.focal_spot import (
    FocalSpotConfig,
    apply_focal_spot,
    blur_extent_mm,
    focal_spot_psf,
    source_offsets_mm,
)
from xraylab.physics.geometry import Geometry

# REFERENCES.md §5 [C]: SID 180 cm; OID → (M, Ug for 0.6 mm, Ug for 1.2 mm).
REF = {100.0: (1.059, 0.035, 0.071), 250.0: (1.161, 0.097, 0.194)}


def _edge_col(geo: Geometry, height_above_detector_mm: float) -> float:
    """Detector column of the shadow of a point (edge) on the central ray at the given height, via the geometry."""
    y = -geo.oid_mm + height_above_detector_mm  # PA: detector plane at y = −OID
    return float(geo.project_world(torch.tensor([[0.0, y, 0.0]], dtype=torch.float64))[0, 1])


@pytest.mark.parametrize("oid", sorted(REF))
def test_magnification_and_ug_at_two_oids(oid):
    m_ref, ug06, ug12 = REF[oid]
    geo = Geometry(sid_mm=1800.0, sod_mm=1800.0 - oid, rows=1, cols=64, pitch_mm=0.01)
    assert abs(geo.magnification - m_ref) < 0.001
    for size, ug_ref in ((0.6, ug06), (1.2, ug12)):
        cfg = FocalSpotConfig(size_mm=size, shape="uniform")
        ug_u, ug_v = blur_extent_mm(cfg, geo)
        assert abs(ug_u - ug_ref) < 0.001 and abs(ug_v - ug_ref) < 0.001
        # Exact mode: project an edge at the isocenter from every source point across the spot.
        n = 16
        offs, w = source_offsets_mm(FocalSpotConfig(size_mm=size, shape="uniform", length_axis="horizontal",
                                                    iec60336="nominal"), n)
        assert abs(float(w.sum()) - 1.0) < 1e-6
        cols = []
        for du, dv in offs.tolist():
            g = geo.model_copy(update={"source_offset_mm": (du, dv)})
            cols.append(_edge_col(g, oid))
        spread_mm = (max(cols) - min(cols)) * geo.pitch_mm
        nu = len({round(c, 6) for c in cols})  # distinct positions across u
        assert abs(spread_mm * nu / (nu - 1) - ug_ref) < 0.002


def _wire_image(geo: Geometry, du: float, wire_radius_mm: float = 0.05, mu_per_mm: float = 10.0,
                sub: int = 16) -> torch.Tensor:
    """Transmission image ``[1, 1, rows, cols]`` of a wire along v through the isocenter, seen from source offset du.

    Analytic: a cylinder of radius R in the isocenter plane, chord length 2√(R² − x²); magnification M about the
    shifted source; pixel aperture integrated with ``sub`` samples.
    """
    m = geo.magnification
    centre = du * (1.0 - m)  # shadow of x = 0 seen from a source at du
    u = (torch.arange(geo.cols * sub, dtype=torch.float64) + 0.5) / sub - geo.cols / 2
    u = u * geo.pitch_mm
    x = (u - centre) / m
    chord = 2.0 * torch.sqrt((wire_radius_mm**2 - x**2).clamp_min(0.0))
    t = torch.exp(-mu_per_mm * chord).view(geo.cols, sub).mean(1)
    return t.float().view(1, 1, 1, -1).expand(1, 1, geo.rows, geo.cols).contiguous()


@pytest.mark.parametrize("shape", ["gaussian", "uniform"])
def test_kernel_matches_exact_multisource(shape):
    geo = Geometry(sid_mm=1800.0, sod_mm=1500.0, rows=3, cols=200, pitch_mm=0.01)
    cfg = FocalSpotConfig(size_mm=1.2, shape=shape, length_axis="vertical", n_sources=144)
    sharp = _wire_image(geo, 0.0)
    fast = apply_focal_spot(sharp, cfg, geo)
    offs, w = source_offsets_mm(cfg.model_copy(update={"mode": "exact"}))
    exact = sum(wi * _wire_image(geo, du) for (du, _), wi in zip(offs.tolist(), w.tolist()))
    contrast = float(1 - sharp.min())
    blurred_contrast = float(1 - fast.min())
    # The spot blurs measurably (Ug = 0.24 mm, twice the 0.12 mm shadow of a 0.1 mm tungsten wire) ...
    assert blurred_contrast < 0.8 * contrast
    # ... and the fast kernel reproduces the exact multi-source average (the residual is the ripple of a finite
    # number of source points: 12 across the wire; it shrinks as n grows).
    assert float((fast - exact).abs().max()) < 0.05 * contrast
    assert abs(float(1 - exact.min()) / blurred_contrast - 1) < 0.02
    # Both conserve the integrated attenuation of the wire.
    assert abs(float((1 - fast).sum() / (1 - sharp).sum()) - 1) < 0.01
    assert abs(float((1 - exact).sum() / (1 - sharp).sum()) - 1) < 0.01


def test_psf_properties_and_anisotropy():
    geo = Geometry(sid_mm=1800.0, sod_mm=1500.0, rows=8, cols=8, pitch_mm=0.05)
    cfg = FocalSpotConfig(size_mm=1.2, iec60336="max", length_axis="vertical")
    w, ln = cfg.dimensions_mm()
    assert abs(w - 1.7) < 0.01 and abs(ln - 2.4) < 0.01  # IEC 60336 upper bounds for f = 1.2 (REFERENCES §1)
    psf = focal_spot_psf(cfg, geo)
    assert psf.shape[0] == psf.shape[1] and psf.shape[0] % 2 == 1
    assert abs(float(psf.sum()) - 1) < 1e-5
    c = torch.arange(psf.shape[0], dtype=torch.float32) - psf.shape[0] // 2
    var_v = float((psf.sum(1) * c**2).sum()) * geo.pitch_mm**2
    var_u = float((psf.sum(0) * c**2).sum()) * geo.pitch_mm**2
    sigma = lambda fwhm: fwhm * 0.2 / (2 * math.sqrt(2 * math.log(2)))  # noqa: E731  (OID/SOD = 0.2)
    assert abs(math.sqrt(var_v) / sigma(ln) - 1) < 0.05   # length along v (anode–cathode axis vertical)
    assert abs(math.sqrt(var_u) / sigma(w) - 1) < 0.05


def test_apply_is_noop_when_disabled_or_exact():
    geo = Geometry(sid_mm=1800.0, sod_mm=1500.0, rows=12, cols=10, pitch_mm=0.05)
    img = torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(apply_focal_spot(img, FocalSpotConfig(enabled=False), geo), img)
    assert torch.equal(apply_focal_spot(img, FocalSpotConfig(mode="exact"), geo), img)
    out = apply_focal_spot(img, FocalSpotConfig(), geo)
    assert out.shape == img.shape and not torch.allclose(out, img)
    flat = torch.full((1, 1, 12, 10), 3.0)
    assert torch.allclose(apply_focal_spot(flat, FocalSpotConfig(), geo), flat)


def test_source_offsets_cover_the_spot():
    cfg = FocalSpotConfig(size_mm=1.2, shape="gaussian", iec60336="max")
    offs, w = source_offsets_mm(cfg, 25)
    assert offs.shape == (25, 2) and abs(float(w.sum()) - 1) < 1e-6
    assert float(offs.mean(0).abs().max()) < 1e-6
    # Spread along v (length 2.4 mm FWHM) exceeds the spread along u (width 1.7 mm FWHM).
    assert float(offs[:, 1].std()) > float(offs[:, 0].std())
    # Uniform spot, 4 points along u: stratum midpoints ±0.15, ±0.45 of a 1.2 mm spot.
    offs, _ = source_offsets_mm(FocalSpotConfig(size_mm=1.2, shape="uniform"), 16)
    assert sorted({round(x, 4) for x in offs[:, 0].tolist()}) == [-0.45, -0.15, 0.15, 0.45]


def test_invalid_focal_spot_names_field():
    with pytest.raises(ValidationError) as exc:
        FocalSpotConfig(size_mm=-1.0)
    assert "size_mm" in str(exc.value)
    with pytest.raises(ValidationError):
        FocalSpotConfig(shape="triangle")
