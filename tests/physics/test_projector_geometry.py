"""Geometry conventions of the projector: C-arm angles, detector offset, explicit frames, view lists."""

from __future__ import annotations

import pytest
import torch

from xraylab import phantoms
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projector


def _geom(**kw) -> Geometry:
    base = dict(sid_mm=1000.0, sod_mm=800.0, rows=41, cols=41, pitch_mm=3.0)
    base.update(kw)
    return Geometry(**base)


@pytest.fixture(scope="module")
def marker_projector() -> Projector:
    return Projector(phantoms.left_marker(n=61, spacing_mm=1.5), structures=["marker", "head"], renderer="trilinear",
                     n_points=160)


def test_lao_90_is_the_lateral_view_of_the_patient_turned_right_side_back(marker_projector):
    """LAO 90 (detector at the patient's left, beam right → left) sees what PA sees of the patient turned by
    α = −90° (left side forward): the same rays in patient coordinates."""
    lao = marker_projector.project(_geom(lao_deg=90.0))
    turned = marker_projector.project(_geom(rotation_deg=-90.0))
    assert torch.allclose(lao.total_density(), turned.total_density(), atol=2e-3, rtol=1e-3)
    assert torch.equal(lao.masks()["marker"], turned.masks()["marker"])
    # The anterior marker (y = −15 mm) lands left of centre: û of LAO 90 points posterior.
    cols = torch.arange(41.0)
    m = lao.paths["marker"][0, 0].sum(0)
    assert (m * cols).sum() / m.sum() < 20 - 3


def test_carm_frame_signs():
    lao, rao = _geom(lao_deg=30.0), _geom(lao_deg=-30.0)
    assert lao.detector_center()[0] > 0 > rao.detector_center()[0]  # LAO: detector towards the patient's left
    cra, cau = _geom(cranial_deg=20.0), _geom(cranial_deg=-20.0)
    assert cra.detector_center()[2] > 0 > cau.detector_center()[2]  # cranial: detector towards the head
    for g in (lao, cra, _geom(lao_deg=40.0, cranial_deg=-25.0)):
        s, d, u, v = g.frame()
        assert torch.allclose(g.detector_center() - s, g.sid_mm * d)
        assert abs(float(u @ d)) < 1e-12 and abs(float(v @ d)) < 1e-12 and abs(float(u @ v)) < 1e-12


def test_detector_offset_shifts_the_image_by_whole_pixels(marker_projector):
    k = 4
    base = marker_projector.project(_geom()).total_density()[0, 0]
    shifted = marker_projector.project(_geom(principal_point_mm=(k * 3.0, -2 * 3.0))).total_density()[0, 0]
    # Offset u0 = k pixels: pixel c of the shifted detector is pixel c + k of the centred one; v0 = −2 rows.
    assert torch.allclose(shifted[2:, : 41 - k], base[:-2, k:], atol=1e-4)


def test_explicit_frame_reproduces_the_pa_preset(marker_projector):
    g = _geom()
    explicit = _geom(source_mm=(0.0, 800.0, 0.0), detector_center_mm=(0.0, -200.0, 0.0))
    a = marker_projector.project(g).total_density()
    b = marker_projector.project(explicit).total_density()
    assert torch.allclose(a, b, atol=1e-5)
    lateral = _geom(source_mm=(-800.0, 0.0, 0.0), detector_center_mm=(200.0, 0.0, 0.0), detector_u=(0.0, 1.0, 0.0))
    c = marker_projector.project(lateral).total_density()
    d = marker_projector.project(_geom(lao_deg=90.0)).total_density()
    assert torch.allclose(c, d, atol=1e-4)


def test_project_world_follows_the_carm(marker_projector):
    """The pinhole model and the ray tracer agree on where a point lands under C-arm angles and offsets."""
    ct = phantoms.sphere(radius_mm=6.5, n=61, spacing_mm=1.5, center_mm=(20.0, -10.0, 15.0))
    g = _geom(lao_deg=35.0, cranial_deg=15.0, principal_point_mm=(6.0, -3.0), isocenter_mm=(0.0, 0.0, 0.0))
    path = Projector(ct, structures=["sphere"], renderer="trilinear", n_points=200).project(g).paths["sphere"][0, 0]
    rr, cc = torch.meshgrid(torch.arange(41.0), torch.arange(41.0), indexing="ij")
    w = path / path.sum()
    got = torch.stack([(w * rr).sum(), (w * cc).sum()])
    want = g.project_world(torch.tensor([[20.0, -10.0, 15.0]], dtype=torch.float64))[0].float()
    assert torch.allclose(got, want, atol=0.5)


def test_geometry_rejects_half_an_explicit_frame():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="together"):
        Geometry(source_mm=(0.0, 800.0, 0.0))


def test_render_view_lists():
    from xraylab.commands.render import parse_values, view_folder, view_grid
    from xraylab.errors import ConfigError

    assert parse_values("-20:20:2", "--rotation") == [float(a) for a in range(-20, 21, 2)]
    assert parse_values("0,10,25", "--rotation") == [0.0, 10.0, 25.0]
    assert parse_values("0:5:2", "--rotation") == [0.0, 2.0, 4.0]
    assert parse_values("7.5", "--lao") == [7.5]
    for bad in ("1:2", "0:10:0", "10:0:1", "a,b"):
        with pytest.raises(ConfigError, match="--rotation"):
            parse_values(bad, "--rotation")
    views = view_grid(rotation="-2:2:2", lao="0", cranial="0,10")
    assert len(views) == 6
    assert view_folder(views[0], views) == "rotation_-2_cranial_0"
