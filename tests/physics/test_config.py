"""PhysicsConfig validation, presets and --set overrides."""

from __future__ import annotations

import pytest

from xraylab.errors import ConfigError
from xraylab.physics.config import PhysicsConfig, make_physics_config, with_overrides
from xraylab.physics.presets import load_physics_config, preset_config, preset_names, resolve_geometry


def test_chest_pa_preset_matches_issue():
    c = preset_config("chest_pa")
    assert c.spectrum.kvp == 120
    assert c.grid is not None and c.grid.ratio == 12 and c.grid.lines_per_cm == 40 and c.grid.focus_mm == 1800
    assert c.focal_spot.size_mm == 1.2
    assert c.detector.scintillator == "CsI" and c.detector.thickness_um == 600
    assert c.detector.pixel_pitch_mm == pytest.approx(0.139)
    assert c.scatter is not None and c.heel.enabled
    assert resolve_geometry("chest_pa").sid_mm == 1800


def test_other_presets():
    assert set(preset_names()) == {"chest_pa", "bedside_ap", "fok2024", "ideal"}
    bed = preset_config("bedside_ap")
    assert bed.spectrum.kvp == 90 and bed.grid is None
    assert resolve_geometry("bedside_ap").sid_mm == 1000
    fok = resolve_geometry("fok2024")
    assert (fok.sod_mm, fok.sid_mm) == (1500, 1800)
    ideal = preset_config("ideal")
    assert ideal.spectrum.monoenergetic_keV is not None
    assert ideal.scatter is None and ideal.grid is None and not ideal.detector.quantum_noise
    assert not ideal.focal_spot.enabled and ideal.detector.mtf_a_mm == 0 and not ideal.detector.aperture
    with pytest.raises(ConfigError, match="unknown physics preset 'chest'"):
        preset_config("chest")


@pytest.mark.parametrize(
    "override, field",
    [
        ("spectrum.kvp=500", "spectrum.kvp"),
        ("spectrum.mas=-2", "spectrum.mas"),
        ("spectrum.filtration=[{material: Adamantium, thickness_mm: 1}]", "spectrum.filtration.0.material"),
        ("grid.ratio=0.5", "grid.ratio"),
        ("detector.packing_fraction=1.5", "detector.packing_fraction"),
        ("heel.anode_side=north", "heel.anode_side"),
    ],
)
def test_out_of_range_overrides_name_the_field(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        with_overrides(preset_config("chest_pa"), [override])


def test_overrides_apply_and_parse_values():
    c = with_overrides(preset_config("chest_pa"), ["spectrum.kvp=100", "detector.quantum_noise=false", "grid=none"])
    assert c.spectrum.kvp == 100 and c.detector.quantum_noise is False and c.grid is None
    c2 = with_overrides(c, ["grid.ratio=8"])  # re-enables the grid with defaults
    assert c2.grid is not None and c2.grid.ratio == 8 and c2.grid.lines_per_cm == 40
    # the original is untouched
    assert preset_config("chest_pa").spectrum.kvp == 120


@pytest.mark.parametrize("bad", ["spectrum.kvpp=100", "nonsense=1", "spectrum", "=3"])
def test_bad_override_keys(bad):
    with pytest.raises(ConfigError):
        with_overrides(PhysicsConfig(), [bad])


def test_extra_fields_forbidden_and_axis_consistency():
    with pytest.raises(ConfigError, match=r"detector\.colour"):
        make_physics_config({"detector": {"colour": "blue"}})
    with pytest.raises(ConfigError, match="anode_side"):
        make_physics_config({"heel": {"anode_side": "left"}, "focal_spot": {"length_axis": "vertical"}})
    ok = make_physics_config({"heel": {"anode_side": "left"}, "focal_spot": {"length_axis": "horizontal"}})
    assert ok.heel.axis == "horizontal"


def test_yaml_with_preset_base(tmp_path):
    p = tmp_path / "phys.yaml"
    p.write_text("preset: bedside_ap\nspectrum:\n  kvp: 85\ndetector:\n  bit_depth: 14\n", encoding="utf-8")
    c = load_physics_config(p)
    assert c.spectrum.kvp == 85 and c.detector.bit_depth == 14 and c.grid is None
    assert c.spectrum.mas == preset_config("bedside_ap").spectrum.mas
    bad = tmp_path / "bad.yaml"
    bad.write_text("spectrum:\n  kvp: 500\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*spectrum\.kvp"):
        load_physics_config(bad)


def test_config_round_trips_through_dump():
    c = preset_config("chest_pa")
    again = make_physics_config(c.model_dump())
    assert again == c
