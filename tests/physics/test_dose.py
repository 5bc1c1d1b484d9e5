"""Dose of a view (xraylab.physics.dose) against REFERENCES.md §1 and the laws it rests on."""

from __future__ import annotations

import pytest

from xraylab.physics.dose import skin_entrance_mm
from xraylab.physics.geometry import preset_geometry
from xraylab.physics.presets import resolve_physics


def test_skin_entrance_is_where_the_central_ray_meets_the_body():
    from xraylab.phantoms import sphere

    g = preset_geometry("chest_pa", rows=8, cols=8)
    assert skin_entrance_mm(sphere(radius_mm=50.5), g) == pytest.approx(g.sod_mm - 50.5, abs=1.0)
    assert skin_entrance_mm(sphere(radius_mm=20.5, center_mm=(0.0, 0.0, 45.0)), g) is None  # ray misses it


@pytest.fixture(scope="module")
def chest():
    from xraylab.io.ct import load_default_ct
    from xraylab.render import build_scene

    scene = build_scene(load_default_ct(2))
    g = preset_geometry("chest_pa", rows=96, cols=96, pitch_mm=430.0 / 96)

    def dose(*overrides: str) -> dict:
        return scene.render(g, resolve_physics("chest_pa", list(overrides)), seed=0).dose

    return dose


@pytest.mark.slow
def test_chest_pa_dose_matches_published_values(chest):
    d = chest()
    # REFERENCES.md §1 [V]: chest PA entrance surface dose below 0.15 mGy; above a tenth of it for a 2 mAs exposure
    assert 15.0 < d["entrance_surface_air_kerma_ugy"] < 150.0
    # REFERENCES.md §1 [V/R]: detector air kerma ≈ 2.5 µGy (EI ≈ 250) — a range, so within a factor of 2
    assert 1.25 < d["detector_air_kerma_ugy"] < 5.0
    assert d["exposure_index"] == pytest.approx(100 * d["detector_air_kerma_ugy"])
    # the inverse square law from the detector to the skin, and the backscatter factor
    k_i = d["free_in_air_detector_kerma_ugy"] * (1800.0 / d["source_skin_distance_mm"]) ** 2
    assert d["incident_air_kerma_ugy"] == pytest.approx(k_i)
    assert d["entrance_surface_air_kerma_ugy"] == pytest.approx(k_i * d["backscatter_factor"])
    # DAP: kerma × field area at the detector plane (Gy·cm²), the area inside the 43 × 43 cm detector
    assert 0 < d["field_area_cm2"] <= 43.0 * 43.0 + 1e-6
    assert d["dose_area_product_gy_cm2"] == pytest.approx(d["free_in_air_detector_kerma_ugy"] * 1e-6
                                                          * d["field_area_cm2"])


@pytest.mark.slow
def test_dose_is_linear_in_mas_and_follows_the_backscatter_setting(chest):
    a, b = chest(), chest("spectrum.mas=4", "dose.backscatter_factor=1.5")
    assert b["incident_air_kerma_ugy"] == pytest.approx(a["incident_air_kerma_ugy"] * 4 / a["mas"], rel=1e-6)
    assert b["dose_area_product_gy_cm2"] == pytest.approx(a["dose_area_product_gy_cm2"] * 4 / a["mas"], rel=1e-6)
    assert b["entrance_surface_air_kerma_ugy"] == pytest.approx(b["incident_air_kerma_ugy"] * 1.5)


def test_cached_scene_finds_the_same_skin():
    """A scene from the volume cache holds a CT header without voxels: the skin is found in its density volume."""
    from xraylab.io.ct import load_default_ct
    from xraylab.render import build_scene, load_scene

    g = preset_geometry("chest_pa", rows=16, cols=16, pitch_mm=430.0 / 16)
    physics = resolve_physics("chest_pa")
    cached = load_scene("default", downsample=4).render(g, physics).dose
    memory = build_scene(load_default_ct(4)).render(g, physics).dose
    assert cached["source_skin_distance_mm"] == pytest.approx(memory["source_skin_distance_mm"], abs=2.0)
    assert cached["source_skin_distance_mm"] == pytest.approx(
        skin_entrance_mm(load_default_ct(4), g), abs=2.0)


def test_skin_follows_the_patient_pose():
    """The entrance point is sought with the view's pose (rotation, shift), not the pose-free detector geometry."""
    from xraylab.io.ct import load_default_ct
    from xraylab.render import build_scene

    ct = load_default_ct(4)
    scene = build_scene(ct)
    physics = resolve_physics("chest_pa")
    for pose in ({"rotation_deg": 20.0}, {"translation_mm": (0.0, 40.0, 0.0)}):
        g = preset_geometry("chest_pa", rows=16, cols=16, pitch_mm=430.0 / 16).model_copy(update=pose)
        ssd = scene.render(g, physics).dose["source_skin_distance_mm"]
        assert ssd == pytest.approx(skin_entrance_mm(ct, g), abs=2.0)
    moved = preset_geometry("chest_pa", rows=16, cols=16).model_copy(update={"translation_mm": (0.0, 40.0, 0.0)})
    shift = skin_entrance_mm(ct, moved) - skin_entrance_mm(ct, preset_geometry("chest_pa"))
    assert abs(shift) == pytest.approx(40.0, abs=2.0)  # a 40 mm shift along the beam moves the skin by 40 mm
