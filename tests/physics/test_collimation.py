"""Collimation (issue 3 item 5): field edges, focal-spot penumbra, irradiated area."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from xraylab.physics.collimation import (
    CollimationConfig,
    collimation_field,
    field_size_at_isocenter_mm,
    irradiated_area_mm2,
    penumbra_mm,
)
from xraylab.physics.focal_spot import FocalSpotConfig
from xraylab.physics.geometry import Geometry

GEO = Geometry(sid_mm=1800.0, sod_mm=1650.0, rows=600, cols=800, pitch_mm=0.5)


def _crossings(profile: np.ndarray, x: np.ndarray, level: float) -> tuple[float, float]:
    """Positions where a rising-then-falling profile crosses ``level`` on the left and right edges."""
    mid = int(np.argmax(profile))
    left = float(np.interp(level, profile[: mid + 1], x[: mid + 1]))
    right = float(np.interp(level, profile[mid:][::-1], x[mid:][::-1]))
    return left, right


def test_field_edges_and_outside_zero():
    cfg = CollimationConfig(width_mm=200.0, height_mm=150.0, offset_u_mm=20.0)
    f = collimation_field(cfg, GEO)
    assert f.shape == (1, 1, 600, 800) and f.dtype == torch.float32
    assert float(f.min()) >= 0.0 and float(f.max()) <= 1.0
    x = (np.arange(GEO.cols) - (GEO.cols - 1) / 2) * GEO.pitch_mm
    row = f[0, 0, GEO.rows // 2].numpy()
    left, right = _crossings(row, x, 0.5)
    assert abs(left - (20.0 - 100.0)) < 0.3 and abs(right - (20.0 + 100.0)) < 0.3
    assert float(f[0, 0, 300, 400]) == pytest.approx(1.0, abs=1e-6)      # inside
    assert float(f[0, 0, 300, :100].max()) < 1e-6                         # well outside: no primary
    assert float(f[0, 0, :100, 400].max()) < 1e-6
    y = (np.arange(GEO.rows) - (GEO.rows - 1) / 2) * GEO.pitch_mm
    top, bottom = _crossings(f[0, 0, :, 400].numpy(), y, 0.5)
    assert abs(top + 75.0) < 0.3 and abs(bottom - 75.0) < 0.3


@pytest.mark.parametrize("distance", [150.0, 300.0])
def test_penumbra_from_focal_spot(distance):
    spot = FocalSpotConfig(size_mm=1.2, shape="uniform")
    cfg = CollimationConfig(width_mm=250.0, height_mm=250.0, collimator_distance_mm=distance)
    expected = 1.2 * (1800.0 - distance) / distance  # F · (SID − d_c) / d_c
    pu, pv = penumbra_mm(cfg, GEO, spot)
    assert pu == pytest.approx(expected) and pv == pytest.approx(expected)
    row = collimation_field(cfg, GEO, focal_spot=spot)[0, 0, GEO.rows // 2].numpy()
    x = (np.arange(GEO.cols) - (GEO.cols - 1) / 2) * GEO.pitch_mm
    l10, r10 = _crossings(row, x, 0.1)
    l90, r90 = _crossings(row, x, 0.9)
    # Uniform spot → linear ramp: 10–90 % width = 0.8 × penumbra (pixel aperture adds < 0.1 mm).
    assert abs((l90 - l10) - 0.8 * expected) < 0.15
    assert abs((r10 - r90) - 0.8 * expected) < 0.15


def test_larger_spot_wider_penumbra_and_open_field():
    cfg = CollimationConfig(width_mm=250.0, height_mm=250.0)
    small = collimation_field(cfg, GEO, focal_spot=FocalSpotConfig(size_mm=0.6))
    large = collimation_field(cfg, GEO, focal_spot=FocalSpotConfig(size_mm=1.2))
    partial = lambda f: int(((f > 0.01) & (f < 0.99)).sum())  # noqa: E731
    assert partial(large) > 1.5 * partial(small)
    assert torch.equal(collimation_field(CollimationConfig(), GEO), torch.ones(1, 1, 600, 800))
    assert torch.equal(collimation_field(CollimationConfig(enabled=False, width_mm=10.0), GEO),
                       torch.ones(1, 1, 600, 800))


def test_field_follows_principal_point():
    # Detector shifted 30 mm along u relative to the central ray: the field (centred on the ray) moves 30 mm left.
    geo = GEO.model_copy(update={"principal_point_mm": (30.0, 0.0)})
    row = collimation_field(CollimationConfig(width_mm=200.0), geo)[0, 0, 0].numpy()
    x = (np.arange(geo.cols) - (geo.cols - 1) / 2) * geo.pitch_mm
    left, right = _crossings(row, x, 0.5)
    assert abs((left + right) / 2 + 30.0) < 0.3


def test_irradiated_area():
    assert irradiated_area_mm2(CollimationConfig(), GEO) == pytest.approx(400.0 * 300.0)
    assert irradiated_area_mm2(CollimationConfig(width_mm=200.0, height_mm=100.0), GEO) == pytest.approx(20000.0)
    # Clipped by the detector (300 mm tall).
    assert irradiated_area_mm2(CollimationConfig(width_mm=200.0, height_mm=500.0), GEO) == pytest.approx(60000.0)
    w, h = field_size_at_isocenter_mm(CollimationConfig(width_mm=180.0, height_mm=90.0), GEO)
    assert w == pytest.approx(165.0) and h == pytest.approx(82.5)


def test_invalid_collimation_names_field():
    with pytest.raises(ValidationError) as exc:
        CollimationConfig(width_mm=-5.0)
    assert "width_mm" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        CollimationConfig(unknown=1)
    assert "unknown" in str(exc.value)
